//! The evaluation context: who and what a flag is evaluated for.

use std::collections::HashMap;

/// A custom attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// Text.
    String(String),
    /// A number (never NaN when built through [`Context`]'s setters).
    Number(f64),
    /// A bool.
    Bool(bool),
    /// A SemVer 2.0 version.
    Semver(semver::Version),
    /// A point in time, unix milliseconds.
    Timestamp(i64),
    /// A list: a clause matches if any element matches.
    List(Vec<AttrValue>),
}

/// A version attribute kept as written and, when it parses, as SemVer.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionAttr {
    /// As given, e.g. `"17.2"`.
    pub raw: String,
    /// Parsed leniently (`17.2` reads as `17.2.0`).
    pub parsed: Option<semver::Version>,
}

impl VersionAttr {
    fn new(raw: impl Into<String>) -> Self {
        let raw = raw.into();
        let parsed = parse_semver_lenient(&raw);
        VersionAttr { raw, parsed }
    }
}

/// Parses SemVer 2.0, also accepting `MAJOR` and `MAJOR.MINOR` (missing
/// components are zero) and a leading `v`, as app and OS versions are often
/// written. Does not allocate for versions without long pre-release tags.
pub fn parse_semver_lenient(s: &str) -> Option<semver::Version> {
    let s = s.trim();
    let s = s.strip_prefix('v').unwrap_or(s);
    if let Ok(v) = semver::Version::parse(s) {
        return Some(v);
    }
    // Split off pre-release and build metadata, then pad the core.
    let (core, rest) = match s.find(['-', '+']) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    let mut nums = [0u64; 3];
    for (i, part) in core.split('.').enumerate() {
        if i == 3 || part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        nums[i] = part.parse().ok()?;
    }
    let mut v = semver::Version::new(nums[0], nums[1], nums[2]);
    let (pre, build) = match rest.strip_prefix('-') {
        Some(r) => match r.split_once('+') {
            Some((p, b)) => (p, b),
            None => (r, ""),
        },
        None => ("", rest.strip_prefix('+').unwrap_or("")),
    };
    if !pre.is_empty() {
        v.pre = semver::Prerelease::new(pre).ok()?;
    }
    if !build.is_empty() {
        v.build = semver::BuildMetadata::new(build).ok()?;
    }
    Some(v)
}

/// Who and what a flag is evaluated for.
///
/// Build it once per user or device and reuse it: evaluation only reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// The stable id percentages hash by default (a user id).
    pub targeting_key: String,
    /// A stable device id, for rules that bucket by device.
    pub device_id: Option<String>,
    /// Operating system, e.g. `android`, `ios`.
    pub os: Option<String>,
    /// Operating system version.
    pub os_version: Option<VersionAttr>,
    /// The app's version.
    pub app_version: Option<VersionAttr>,
    /// Device model, e.g. `Pixel 8`.
    pub device_model: Option<String>,
    /// Locale, e.g. `en-US`.
    pub locale: Option<String>,
    /// Country or region code, e.g. `US`.
    pub country: Option<String>,
    /// Installed memory in MiB.
    pub ram_mb: Option<f64>,
    /// Whether a usable GPU is present.
    pub has_gpu: Option<bool>,
    /// Whether a usable NPU is present.
    pub has_npu: Option<bool>,
    /// Accelerator names the device offers, e.g. `["cpu", "gpu"]`.
    pub accelerators: Vec<String>,
    /// Anything else.
    pub custom: HashMap<String, AttrValue>,
}

impl Context {
    /// A context for one targeting key.
    pub fn new(targeting_key: impl Into<String>) -> Self {
        Context {
            targeting_key: targeting_key.into(),
            ..Default::default()
        }
    }

    /// Sets the device id.
    pub fn device_id(mut self, v: impl Into<String>) -> Self {
        self.device_id = Some(v.into());
        self
    }
    /// Sets the OS.
    pub fn os(mut self, v: impl Into<String>) -> Self {
        self.os = Some(v.into());
        self
    }
    /// Sets the OS version.
    pub fn os_version(mut self, v: impl Into<String>) -> Self {
        self.os_version = Some(VersionAttr::new(v));
        self
    }
    /// Sets the app version.
    pub fn app_version(mut self, v: impl Into<String>) -> Self {
        self.app_version = Some(VersionAttr::new(v));
        self
    }
    /// Sets the device model.
    pub fn device_model(mut self, v: impl Into<String>) -> Self {
        self.device_model = Some(v.into());
        self
    }
    /// Sets the locale.
    pub fn locale(mut self, v: impl Into<String>) -> Self {
        self.locale = Some(v.into());
        self
    }
    /// Sets the country or region.
    pub fn country(mut self, v: impl Into<String>) -> Self {
        self.country = Some(v.into());
        self
    }
    /// Sets the memory in MiB (ignored when not finite).
    pub fn ram_mb(mut self, v: f64) -> Self {
        self.ram_mb = v.is_finite().then_some(v);
        self
    }
    /// Sets whether a GPU is present.
    pub fn has_gpu(mut self, v: bool) -> Self {
        self.has_gpu = Some(v);
        self
    }
    /// Sets whether an NPU is present.
    pub fn has_npu(mut self, v: bool) -> Self {
        self.has_npu = Some(v);
        self
    }
    /// Sets the accelerator names.
    pub fn accelerators<I: IntoIterator<Item = S>, S: Into<String>>(mut self, v: I) -> Self {
        self.accelerators = v.into_iter().map(Into::into).collect();
        self
    }
    /// Sets a custom attribute (a NaN number is dropped: it could match nothing).
    pub fn set(mut self, name: impl Into<String>, value: AttrValue) -> Self {
        if !matches!(value, AttrValue::Number(n) if n.is_nan()) {
            self.custom.insert(name.into(), value);
        }
        self
    }

    /// Builds a context from JSON: `{"targeting_key": "...", "device_id": ...,
    /// "os": ..., "custom": {"name": value}}`. Standard attribute names are
    /// read at the top level; every other top-level field, and every field of
    /// `custom`, becomes a custom attribute. A custom value written as
    /// `{"semver": "1.2.3"}` or `{"timestamp": "RFC 3339"}` gets that type.
    ///
    /// # Errors
    /// A message naming the field, when a field has an unusable type.
    pub fn from_json(v: &serde_json::Value) -> Result<Context, String> {
        let obj = v.as_object().ok_or("a context is a JSON object")?;
        let mut ctx = Context::default();
        let text = |k: &str, x: &serde_json::Value| -> Result<String, String> {
            x.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("`{k}` must be a string"))
        };
        for (k, x) in obj {
            match AttrRef::parse(k) {
                AttrRef::TargetingKey => ctx.targeting_key = text(k, x)?,
                AttrRef::DeviceId => ctx.device_id = Some(text(k, x)?),
                AttrRef::Os => ctx.os = Some(text(k, x)?),
                AttrRef::OsVersion => ctx.os_version = Some(VersionAttr::new(text(k, x)?)),
                AttrRef::AppVersion => ctx.app_version = Some(VersionAttr::new(text(k, x)?)),
                AttrRef::DeviceModel => ctx.device_model = Some(text(k, x)?),
                AttrRef::Locale => ctx.locale = Some(text(k, x)?),
                AttrRef::Country => ctx.country = Some(text(k, x)?),
                AttrRef::RamMb => {
                    ctx.ram_mb = Some(x.as_f64().ok_or("`ram_mb` must be a number")?);
                }
                AttrRef::HasGpu => {
                    ctx.has_gpu = Some(x.as_bool().ok_or("`has_gpu` must be a bool")?)
                }
                AttrRef::HasNpu => {
                    ctx.has_npu = Some(x.as_bool().ok_or("`has_npu` must be a bool")?)
                }
                AttrRef::Accelerators => {
                    let list = x
                        .as_array()
                        .ok_or("`accelerators` must be a list of strings")?;
                    ctx.accelerators = list.iter().map(|a| text(k, a)).collect::<Result<_, _>>()?;
                }
                AttrRef::Custom(_) if k == "custom" => {
                    let m = x.as_object().ok_or("`custom` must be an object")?;
                    for (ck, cv) in m {
                        ctx.custom.insert(ck.clone(), attr_from_json(ck, cv)?);
                    }
                }
                AttrRef::Custom(_) => {
                    ctx.custom.insert(k.clone(), attr_from_json(k, x)?);
                }
            }
        }
        Ok(ctx)
    }

    /// Looks an attribute up without allocating.
    pub(crate) fn get(&self, attr: &AttrRef) -> Option<AttrView<'_>> {
        fn s(o: &Option<String>) -> Option<AttrView<'_>> {
            o.as_deref().map(AttrView::Str)
        }
        fn ver(o: &Option<VersionAttr>) -> Option<AttrView<'_>> {
            o.as_ref()
                .map(|v| AttrView::Version(&v.raw, v.parsed.as_ref()))
        }
        match attr {
            AttrRef::TargetingKey => {
                (!self.targeting_key.is_empty()).then_some(AttrView::Str(&self.targeting_key))
            }
            AttrRef::DeviceId => s(&self.device_id),
            AttrRef::Os => s(&self.os),
            AttrRef::OsVersion => ver(&self.os_version),
            AttrRef::AppVersion => ver(&self.app_version),
            AttrRef::DeviceModel => s(&self.device_model),
            AttrRef::Locale => s(&self.locale),
            AttrRef::Country => s(&self.country),
            AttrRef::RamMb => self.ram_mb.map(AttrView::Num),
            AttrRef::HasGpu => self.has_gpu.map(AttrView::Bool),
            AttrRef::HasNpu => self.has_npu.map(AttrView::Bool),
            AttrRef::Accelerators => Some(AttrView::StrList(&self.accelerators)),
            AttrRef::Custom(name) => self.custom.get(&**name).map(AttrView::of),
        }
    }
}

fn attr_from_json(name: &str, v: &serde_json::Value) -> Result<AttrValue, String> {
    use serde_json::Value;
    Ok(match v {
        Value::String(s) => AttrValue::String(s.clone()),
        Value::Bool(b) => AttrValue::Bool(*b),
        Value::Number(n) => AttrValue::Number(
            n.as_f64()
                .ok_or_else(|| format!("`{name}` is out of range"))?,
        ),
        Value::Array(items) => AttrValue::List(
            items
                .iter()
                .map(|x| attr_from_json(name, x))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) if m.len() == 1 && m.contains_key("semver") => {
            let s = m["semver"].as_str().unwrap_or_default();
            AttrValue::Semver(
                parse_semver_lenient(s).ok_or_else(|| format!("`{name}`: invalid semver `{s}`"))?,
            )
        }
        Value::Object(m) if m.len() == 1 && m.contains_key("timestamp") => {
            let s = m["timestamp"].as_str().unwrap_or_default();
            AttrValue::Timestamp(
                crate::config::parse_timestamp_ms(s)
                    .ok_or_else(|| format!("`{name}`: invalid RFC 3339 timestamp `{s}`"))?,
            )
        }
        _ => return Err(format!("`{name}` has an unsupported type")),
    })
}

/// An attribute name resolved once, at config load.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttrRef {
    /// `targeting_key` (also `key`, `user_id`).
    TargetingKey,
    /// `device_id`.
    DeviceId,
    /// `os`.
    Os,
    /// `os_version`.
    OsVersion,
    /// `app_version`.
    AppVersion,
    /// `device_model`.
    DeviceModel,
    /// `locale`.
    Locale,
    /// `country` (also `region`).
    Country,
    /// `ram_mb`.
    RamMb,
    /// `has_gpu`.
    HasGpu,
    /// `has_npu`.
    HasNpu,
    /// `accelerators`.
    Accelerators,
    /// Any other name: a custom attribute.
    Custom(Box<str>),
}

impl AttrRef {
    /// Resolves an attribute name.
    pub fn parse(name: &str) -> AttrRef {
        match name {
            "targeting_key" | "targetingKey" | "key" | "user_id" => AttrRef::TargetingKey,
            "device_id" => AttrRef::DeviceId,
            "os" => AttrRef::Os,
            "os_version" => AttrRef::OsVersion,
            "app_version" => AttrRef::AppVersion,
            "device_model" => AttrRef::DeviceModel,
            "locale" => AttrRef::Locale,
            "country" | "region" => AttrRef::Country,
            "ram_mb" => AttrRef::RamMb,
            "has_gpu" => AttrRef::HasGpu,
            "has_npu" => AttrRef::HasNpu,
            "accelerators" => AttrRef::Accelerators,
            other => AttrRef::Custom(Box::from(other)),
        }
    }
}

/// A borrowed view of one attribute value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AttrView<'a> {
    Str(&'a str),
    Version(&'a str, Option<&'a semver::Version>),
    Num(f64),
    Bool(bool),
    Semver(&'a semver::Version),
    Time(i64),
    List(&'a [AttrValue]),
    StrList(&'a [String]),
}

impl<'a> AttrView<'a> {
    pub(crate) fn of(v: &'a AttrValue) -> Self {
        match v {
            AttrValue::String(s) => AttrView::Str(s),
            AttrValue::Number(n) => AttrView::Num(*n),
            AttrValue::Bool(b) => AttrView::Bool(*b),
            AttrValue::Semver(v) => AttrView::Semver(v),
            AttrValue::Timestamp(t) => AttrView::Time(*t),
            AttrValue::List(l) => AttrView::List(l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_semver() {
        assert_eq!(
            parse_semver_lenient("17.2"),
            Some(semver::Version::new(17, 2, 0))
        );
        assert_eq!(
            parse_semver_lenient("v3"),
            Some(semver::Version::new(3, 0, 0))
        );
        let v = parse_semver_lenient("2.1-beta.1+42").unwrap();
        assert_eq!(v.pre.as_str(), "beta.1");
        assert_eq!(v.build.as_str(), "42");
        assert_eq!(parse_semver_lenient("1.2.3.4"), None);
        assert_eq!(parse_semver_lenient("abc"), None);
        assert_eq!(parse_semver_lenient(""), None);
    }

    #[test]
    fn context_from_json_reads_standard_and_custom() {
        let ctx = Context::from_json(&serde_json::json!({
            "targeting_key": "u1", "os": "android", "app_version": "5.2",
            "ram_mb": 4096, "has_gpu": true, "accelerators": ["cpu", "gpu"],
            "tier": "gold", "custom": {"since": {"timestamp": "2026-01-01T00:00:00Z"}, "sdk": {"semver": "1.2.3"}}
        }))
        .unwrap();
        assert_eq!(ctx.targeting_key, "u1");
        assert_eq!(
            ctx.app_version.as_ref().unwrap().parsed,
            Some(semver::Version::new(5, 2, 0))
        );
        assert_eq!(ctx.custom["tier"], AttrValue::String("gold".into()));
        assert_eq!(ctx.custom["since"], AttrValue::Timestamp(1_767_225_600_000));
        assert!(matches!(ctx.custom["sdk"], AttrValue::Semver(_)));
        assert!(Context::from_json(&serde_json::json!({"has_gpu": "yes"})).is_err());
    }
}
