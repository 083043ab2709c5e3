//! Checks that the Android and iOS packages are what the stores accept and
//! apps can install (issue 18), run by `cargo xtask bindings test`:
//!
//! - the library apps ship, built on this host with the `mobile` profile as
//!   committed and the Android linker flags of `.cargo/config.toml`: every
//!   LOAD segment aligned to at least 16 KB, stripped size within the budget,
//!   and where the bytes are, per crate;
//! - the AAR's consumer R8/ProGuard rules keep everything the generated
//!   Kotlin makes JNA reflect on;
//! - the Swift package's privacy manifest declares the required-reason APIs
//!   listed next to the code that calls them;
//! - the Swift release path (remote binary target, checksum script) and the
//!   CocoaPods podspec are consistent;
//! - the Maven publication: the host jar with sources and javadoc jars and a
//!   complete POM, deployed to a local repository and consumed by a separate
//!   Maven project.

mod apple;
mod maven;

use crate::{cargo, root, run};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The stripped-size budget of the library apps ship (bytes).
pub const SIZE_LIMIT: u64 = 6_000_000;
/// Google Play's page size for apps targeting Android 15+.
pub const ANDROID_PAGE: u64 = 16_384;
/// Every Android ABI the AAR ships, by Rust target.
pub const ANDROID_TARGETS: [&str; 4] = [
    "aarch64-linux-android",
    "armv7-linux-androideabi",
    "x86_64-linux-android",
    "i686-linux-android",
];

/// Runs every package check (see the module docs).
pub fn check(generated: &crate::bindings::Generated) -> Result<()> {
    let generated_kotlin = generated.kotlin.as_path();
    let rules = std::fs::read_to_string(root().join("bindings/kotlin/consumer-rules.pro"))?;
    let mut sources = String::new();
    for file in crate::bindings::kotlin_sources(generated_kotlin)? {
        sources.push_str(&std::fs::read_to_string(&file)?);
        sources.push('\n');
    }
    let kept = check_consumer_rules(&rules, &sources)?;
    println!("consumer-rules.pro keeps all {kept} types JNA reflects on");
    apple::check()?;
    maven::check(generated)?;
    // Last: the slow one (a fat-LTO build).
    let library = mobile_library()?;
    check_load_alignment(&library)?;
    size_report(&library)
}

/// The linker flags every Android target gets from `.cargo/config.toml`,
/// checked to be the same for all of them and to include 16 KB pages.
pub fn android_rustflags() -> Result<Vec<String>> {
    let path = root().join(".cargo/config.toml");
    let text = std::fs::read_to_string(&path)?;
    android_rustflags_from(&text)
}

fn android_rustflags_from(config: &str) -> Result<Vec<String>> {
    let value: toml::Table = toml::from_str(config).context("cannot parse .cargo/config.toml")?;
    let mut first: Option<Vec<String>> = None;
    for target in ANDROID_TARGETS {
        let flags: Vec<String> = value
            .get("target")
            .and_then(|t| t.get(target))
            .and_then(|t| t.get("rustflags"))
            .and_then(|f| f.as_array())
            .with_context(|| format!(".cargo/config.toml sets no rustflags for {target}"))?
            .iter()
            .filter_map(|f| f.as_str().map(str::to_owned))
            .collect();
        let page = format!("-Wl,-z,max-page-size={ANDROID_PAGE}");
        if !flags.iter().any(|f| f.ends_with(&page)) {
            bail!(".cargo/config.toml: {target} lacks `-C link-arg={page}`");
        }
        match &first {
            None => first = Some(flags),
            Some(f) if *f != flags => {
                bail!(
                    ".cargo/config.toml: {target} has different rustflags from {}",
                    ANDROID_TARGETS[0]
                )
            }
            Some(_) => {}
        }
    }
    first.context("no Android targets")
}

/// Builds `litegate-ffi` with exactly the `mobile` profile and the Android
/// targets' flags, linked by LLD (the NDK's linker; rustup ships it), into
/// `target/mobile-size`. Returns the unstripped library.
pub fn mobile_library() -> Result<PathBuf> {
    let flags = android_rustflags()?;
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()?;
    let sysroot = String::from_utf8(sysroot.stdout)?.trim().to_owned();
    let host = std::env::consts::ARCH.to_owned() + "-unknown-linux-gnu";
    let gcc_ld = Path::new(&sysroot)
        .join("lib/rustlib")
        .join(&host)
        .join("bin/gcc-ld");
    if !gcc_ld.join("ld.lld").exists() {
        bail!(
            "{} has no ld.lld: is the toolchain's rust-lld installed?",
            gcc_ld.display()
        );
    }
    let mut rustflags = vec![
        "-C".to_owned(),
        "link-arg=-fuse-ld=lld".to_owned(),
        "-C".to_owned(),
        format!("link-arg=-B{}", gcc_ld.display()),
    ];
    rustflags.extend(flags);
    let target_dir = root().join("target/mobile-size");
    run(cargo()
        .args([
            "build",
            "--quiet",
            "-p",
            "litegate-ffi",
            "--lib",
            "--profile",
            "mobile",
        ])
        // An explicit `--target` keeps these flags off build scripts and
        // proc macros, which run here (glibc cannot load packed relocations).
        .args(["--target", &host])
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags.join("\u{1f}")))?;
    Ok(target_dir.join(&host).join("mobile/liblitegate_ffi.so"))
}

/// Fails unless every LOAD segment of the ELF file is aligned to 16 KB.
pub fn check_load_alignment(library: &Path) -> Result<()> {
    let data = std::fs::read(library)?;
    let aligns = load_alignments(&data)?;
    if aligns.is_empty() {
        bail!("{}: no LOAD segments", library.display());
    }
    if let Some(bad) = aligns.iter().find(|a| **a < ANDROID_PAGE) {
        bail!(
            "{}: a LOAD segment is aligned to {bad} bytes, below Android's 16 KB pages",
            library.display()
        );
    }
    println!(
        "{} LOAD segments, all aligned to >= {ANDROID_PAGE} bytes ({aligns:?})",
        aligns.len()
    );
    Ok(())
}

/// The `p_align` of each PT_LOAD program header.
fn load_alignments(data: &[u8]) -> Result<Vec<u64>> {
    use object::read::elf::{FileHeader, ProgramHeader};
    let kind = object::FileKind::parse(data)?;
    let mut out = Vec::new();
    match kind {
        object::FileKind::Elf64 => {
            let header = object::elf::FileHeader64::<object::Endianness>::parse(data)?;
            let endian = header.endian()?;
            for ph in header.program_headers(endian, data)? {
                if ph.p_type(endian) == object::elf::PT_LOAD {
                    out.push(ph.p_align(endian));
                }
            }
        }
        object::FileKind::Elf32 => {
            let header = object::elf::FileHeader32::<object::Endianness>::parse(data)?;
            let endian = header.endian()?;
            for ph in header.program_headers(endian, data)? {
                if ph.p_type(endian) == object::elf::PT_LOAD {
                    out.push(u64::from(ph.p_align(endian)));
                }
            }
        }
        other => bail!("not an ELF file: {other:?}"),
    }
    Ok(out)
}

/// Strips a copy of the library, checks it against [`SIZE_LIMIT`] and
/// prints where the bytes are per crate (from the unstripped symbol table).
pub fn size_report(library: &Path) -> Result<()> {
    let stripped = library.with_file_name("liblitegate_ffi.stripped.so");
    run(Command::new("strip")
        .arg("--strip-all")
        .arg("-o")
        .arg(&stripped)
        .arg(library))?;
    let size = std::fs::metadata(&stripped)?.len();
    let data = std::fs::read(library)?;
    let (crates, sections) = attribute(&data)?;
    println!("where the bytes are (symbol sizes per crate, identical code folded once):");
    let total: u64 = crates.values().sum();
    let mut rows: Vec<_> = crates.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (name, bytes) in rows.iter().take(30) {
        println!(
            "  {:>9} B {:>5.1}%  {name}",
            bytes,
            *bytes as f64 * 100.0 / total.max(1) as f64
        );
    }
    let rest: u64 = rows.iter().skip(30).map(|(_, b)| *b).sum();
    if rest > 0 {
        println!("  {rest:>9} B         {} more crates", rows.len() - 30);
    }
    println!("  {total:>9} B in symbols; allocated sections of the file:");
    for (name, bytes) in &sections {
        println!("  {bytes:>9} B  {name}");
    }
    println!(
        "stripped cdylib (profile `mobile` as committed, Android link flags, LLD): {size} bytes ({:.2} MiB), limit {SIZE_LIMIT}",
        size as f64 / (1024.0 * 1024.0)
    );
    if size > SIZE_LIMIT {
        bail!("the stripped cdylib is {size} bytes, over the {SIZE_LIMIT}-byte budget");
    }
    Ok(())
}

/// Symbol bytes per crate, and allocated section sizes.
type Attribution = (BTreeMap<String, u64>, Vec<(String, u64)>);

fn attribute(data: &[u8]) -> Result<Attribution> {
    use object::{Object, ObjectSection, ObjectSymbol, SectionFlags};
    let file = object::File::parse(data)?;
    // Identical code folding leaves several names on one address: count it once.
    let mut by_address: BTreeMap<u64, (u64, String)> = BTreeMap::new();
    for symbol in file.symbols() {
        if symbol.size() == 0 || symbol.address() == 0 {
            continue;
        }
        let Ok(name) = symbol.name() else { continue };
        let entry = by_address
            .entry(symbol.address())
            .or_insert((0, String::new()));
        if symbol.size() > entry.0 {
            *entry = (symbol.size(), name.to_owned());
        }
    }
    let mut crates = BTreeMap::new();
    for (size, name) in by_address.values() {
        *crates.entry(crate_of(name)).or_insert(0) += size;
    }
    let mut sections = Vec::new();
    for section in file.sections() {
        let allocated = match section.flags() {
            SectionFlags::Elf { sh_flags } => sh_flags & u64::from(object::elf::SHF_ALLOC) != 0,
            _ => true,
        };
        if allocated && section.size() >= 4096 {
            sections.push((section.name().unwrap_or("?").to_owned(), section.size()));
        }
    }
    sections.sort_by_key(|s| std::cmp::Reverse(s.1));
    Ok((crates, sections))
}

/// The crate a (mangled) symbol belongs to: the first path segment of its
/// demangled name, the self type's crate for `<T as Trait>` impls; C and
/// assembly symbols by known prefix.
fn crate_of(mangled: &str) -> String {
    let demangled = format!("{:#}", rustc_demangle::demangle(mangled));
    let mut s = demangled.as_str();
    loop {
        let t = s
            .trim_start_matches('<')
            .trim_start_matches('&')
            .trim_start_matches("mut ")
            .trim_start_matches("dyn ")
            .trim_start_matches("*const ")
            .trim_start_matches("*mut ")
            .trim_start_matches('[')
            .trim_start_matches('(');
        if t.len() == s.len() {
            break;
        }
        s = t;
    }
    if let Some((head, _)) = s.split_once("::") {
        if !head.is_empty() && head.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return head.to_owned();
        }
    }
    if s.starts_with("ring_core_") {
        return "ring (C/asm)".to_owned();
    }
    if mangled.starts_with("uniffi_") || mangled.starts_with("ffi_litegate") {
        return "litegate_ffi (exports)".to_owned();
    }
    "(C symbols, other)".to_owned()
}

/// How one ProGuard keep rule names classes.
#[derive(Debug)]
struct KeepRule {
    /// `-keep`, `-keepclassmembers`, `-keepclasseswithmembernames`, ...
    directive: String,
    /// The class name pattern (`*`, `dev.litegate.**`, ...).
    name: String,
    /// `extends`/`implements` super type, if any.
    parent: Option<String>,
    /// The member specification between braces.
    members: String,
}

fn parse_rules(text: &str) -> (Vec<KeepRule>, Vec<String>) {
    let mut rules = Vec::new();
    let mut attributes = Vec::new();
    // A directive starts a line with `-`; other lines continue it (braces
    // may span lines).
    let mut chunks: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(d) = line.strip_prefix('-') {
            chunks.push(d.to_owned());
        } else if let Some(last) = chunks.last_mut() {
            last.push(' ');
            last.push_str(line);
        }
    }
    for chunk in &chunks {
        let chunk = chunk.trim();
        let Some((directive, rest)) = chunk.split_once(char::is_whitespace) else {
            continue;
        };
        if directive == "keepattributes" {
            attributes.extend(rest.split(',').map(|a| a.trim().to_owned()));
            continue;
        }
        if !directive.starts_with("keep") {
            continue;
        }
        let (head, members) = match rest.split_once('{') {
            Some((h, m)) => (h, m.trim_end().trim_end_matches('}').trim().to_owned()),
            None => (rest, String::new()),
        };
        let words: Vec<&str> = head
            .split_whitespace()
            .filter(|w| !w.starts_with("allow") && *w != ",")
            .collect();
        let Some(kind_at) = words
            .iter()
            .position(|w| matches!(*w, "class" | "interface" | "enum" | "@interface"))
        else {
            continue;
        };
        let Some(name) = words.get(kind_at + 1) else {
            continue;
        };
        let parent = words
            .iter()
            .position(|w| matches!(*w, "extends" | "implements"))
            .and_then(|i| words.get(i + 1))
            .map(|p| (*p).to_owned());
        rules.push(KeepRule {
            directive: directive.to_owned(),
            name: (*name).to_owned(),
            parent,
            members,
        });
    }
    (rules, attributes)
}

/// ProGuard class name wildcard match: `**` any run, `*` any run without dots.
/// A lone `*` matches every class, in any package (as ProGuard reads `class *`).
fn glob(pattern: &str, name: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p {
            [] => n.is_empty(),
            [b'*', b'*', rest @ ..] => (0..=n.len()).any(|i| go(rest, &n[i..])),
            [b'*', rest @ ..] => (0..=n.len())
                .take_while(|i| *i == 0 || n[i - 1] != b'.')
                .any(|i| go(rest, &n[i..])),
            [c, rest @ ..] => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// What JNA reflects on in the generated Kotlin.
#[derive(Debug, PartialEq)]
enum Reflected {
    /// A `Structure` subclass: class, public fields, constructors.
    Structure(String),
    /// A `com.sun.jna.Callback` interface: its method.
    CallbackInterface(String),
    /// A class implementing a callback interface: its `callback` method.
    CallbackImpl(String, String),
    /// A class with `external fun`s bound by `Native.register`: their names.
    Native(String),
    /// A `com.sun.jna.Library` interface: its methods.
    Library(String),
}

fn reflected_types(sources: &str) -> Vec<Reflected> {
    let package = sources
        .lines()
        .find_map(|l| l.trim().strip_prefix("package "))
        .unwrap_or("")
        .trim()
        .to_owned();
    let fq = |n: &str| format!("{package}.{n}");
    let mut out = Vec::new();
    let mut callback_interfaces = Vec::new();
    let mut current_object: Option<String> = None;
    for line in sources.lines() {
        let line = line.trim();
        let Some(decl) = ["class ", "interface ", "object "]
            .iter()
            .find_map(|k| line.find(k).map(|i| &line[i..]))
        else {
            if line.starts_with("external fun ") {
                if let Some(o) = &current_object {
                    if !out.contains(&Reflected::Native(fq(o))) {
                        out.push(Reflected::Native(fq(o)));
                    }
                }
            }
            continue;
        };
        if line.starts_with("//") || line.starts_with('*') || line.starts_with("/*") {
            continue;
        }
        let (kind, rest) = decl.split_once(' ').unwrap_or((decl, ""));
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue;
        }
        if kind == "object" {
            current_object = Some(name.clone());
        }
        let supers = rest.split_once(':').map(|(_, s)| s).unwrap_or("");
        if supers.contains("Structure()") {
            out.push(Reflected::Structure(fq(&name)));
        } else if kind == "interface" && supers.contains("Callback") {
            callback_interfaces.push(name.clone());
            out.push(Reflected::CallbackInterface(fq(&name)));
        } else if kind == "interface" && supers.contains("Library") {
            out.push(Reflected::Library(fq(&name)));
        } else if let Some(iface) = callback_interfaces.iter().find(|i| {
            supers
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .any(|w| w == i.as_str())
        }) {
            out.push(Reflected::CallbackImpl(fq(&name), fq(iface)));
        }
    }
    out
}

fn keeps(
    rules: &[KeepRule],
    class: &str,
    parent: Option<&str>,
    member_ok: impl Fn(&str) -> bool,
) -> bool {
    let class_kept = rules.iter().any(|r| {
        r.directive == "keep"
            && match &r.parent {
                Some(p) => parent.is_some_and(|x| glob(p, x)),
                None => glob(&r.name, class),
            }
    });
    let members_kept = rules.iter().any(|r| {
        r.directive.starts_with("keep")
            && member_ok(&r.members)
            && match &r.parent {
                Some(p) => parent.is_some_and(|x| glob(p, x)),
                None => glob(&r.name, class),
            }
    });
    class_kept && members_kept
}

/// Checks the consumer rules against the generated Kotlin; returns how many
/// reflected-on types they cover.
pub fn check_consumer_rules(rules_text: &str, sources: &str) -> Result<usize> {
    let (rules, attributes) = parse_rules(rules_text);
    let types = reflected_types(sources);
    if types.is_empty() {
        bail!("found nothing JNA reflects on in the generated Kotlin: has its shape changed?");
    }
    let all = |m: &str| m.split(';').any(|s| s.trim() == "*");
    let fields = |m: &str| all(m) || m.contains("<fields>");
    let methods = |m: &str| all(m) || m.contains("<methods>");
    let mut missing = Vec::new();
    for t in &types {
        let ok = match t {
            Reflected::Structure(c) => {
                keeps(&rules, c, Some("com.sun.jna.Structure"), fields)
                    && keeps(&rules, c, Some("com.sun.jna.Structure"), |m| {
                        all(m) || m.contains("<init>")
                    })
            }
            Reflected::CallbackInterface(c) => {
                keeps(&rules, c, Some("com.sun.jna.Callback"), methods)
            }
            Reflected::CallbackImpl(c, _) => {
                keeps(&rules, c, Some("com.sun.jna.Callback"), methods)
            }
            Reflected::Library(c) => keeps(&rules, c, Some("com.sun.jna.Library"), methods),
            Reflected::Native(c) => {
                rules.iter().any(|r| {
                    r.directive.starts_with("keepclasseswithmember")
                        && glob(&r.name, c)
                        && r.members.contains("native <methods>")
                }) || keeps(&rules, c, None, methods)
            }
        };
        if !ok {
            missing.push(format!("{t:?}"));
        }
    }
    if types.iter().any(|t| matches!(t, Reflected::Structure(_)))
        && sources.contains("@Structure.FieldOrder")
        && !attributes
            .iter()
            .any(|a| a == "*Annotation*" || a == "RuntimeVisibleAnnotations")
    {
        missing.push(
            "-keepattributes RuntimeVisibleAnnotations (JNA reads @Structure.FieldOrder)"
                .to_owned(),
        );
    }
    if !missing.is_empty() {
        bail!(
            "consumer-rules.pro does not keep what JNA reflects on:\n  {}",
            missing.join("\n  ")
        );
    }
    Ok(types.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KOTLIN: &str = r#"
package dev.litegate

@Structure.FieldOrder("capacity", "len", "data")
open class RustBuffer : Structure() {
    @JvmField var capacity: Long = 0
    class ByValue: RustBuffer(), Structure.ByValue
}
internal interface UniffiRustFutureContinuationCallback : com.sun.jna.Callback {
    fun callback(`data`: Long,`pollResult`: Byte,)
}
internal object uniffiRustFutureContinuationCallbackImpl: UniffiRustFutureContinuationCallback {
    override fun callback(data: Long, pollResult: Byte) {}
}
internal object UniffiLib {
    init { Native.register(UniffiLib::class.java, findLibraryName("litegate")) }
    external fun uniffi_litegate_fn_free_client(`ptr`: Long,uniffi_out_err: UniffiRustCallStatus, ): Unit
}
"#;

    const RULES: &str = include_str!("../../bindings/kotlin/consumer-rules.pro");

    #[test]
    fn committed_rules_cover_a_generated_shape() {
        assert_eq!(check_consumer_rules(RULES, KOTLIN).unwrap(), 4);
    }

    #[test]
    fn each_missing_rule_is_reported() {
        for needle in [
            "com.sun.jna.Structure",
            "com.sun.jna.Callback",
            "native <methods>",
            "RuntimeVisibleAnnotations",
        ] {
            let rules: String = RULES
                .lines()
                .filter(|l| !l.contains(needle))
                .collect::<Vec<_>>()
                .join("\n");
            assert!(
                check_consumer_rules(&rules, KOTLIN).is_err(),
                "without {needle}"
            );
        }
    }

    #[test]
    fn finds_the_reflected_types() {
        let t = reflected_types(KOTLIN);
        assert!(t.contains(&Reflected::Structure("dev.litegate.RustBuffer".into())));
        assert!(t.contains(&Reflected::Native("dev.litegate.UniffiLib".into())));
        assert!(t.contains(&Reflected::CallbackImpl(
            "dev.litegate.uniffiRustFutureContinuationCallbackImpl".into(),
            "dev.litegate.UniffiRustFutureContinuationCallback".into()
        )));
    }

    #[test]
    fn glob_follows_proguard() {
        assert!(glob("dev.litegate.**", "dev.litegate.a.B"));
        assert!(glob("dev.litegate.*", "dev.litegate.B"));
        assert!(!glob("dev.litegate.*", "dev.litegate.a.B"));
        assert!(glob("*", "dev.litegate.B"));
        assert!(!glob("dev.*.B", "dev.litegate.x.B"));
        assert!(glob("**", "dev.litegate.B"));
    }

    #[test]
    fn android_flags_need_16k_pages_on_every_target() {
        let good = std::fs::read_to_string(root().join(".cargo/config.toml")).unwrap();
        let flags = android_rustflags_from(&good).unwrap();
        assert!(flags.iter().any(|f| f.contains("max-page-size=16384")));
        let bad = good.replacen("max-page-size=16384\"", "max-page-size=4096\"", 1);
        assert_ne!(bad, good);
        assert!(android_rustflags_from(&bad).is_err());
    }

    #[test]
    fn load_alignment_is_read_from_program_headers() {
        // This very test binary: linked for the host with 4 KB pages.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let aligns = load_alignments(&exe).unwrap();
        assert!(!aligns.is_empty());
        assert!(aligns.iter().all(|a| a.is_power_of_two()));
    }

    #[test]
    fn symbols_are_attributed_to_crates() {
        assert_eq!(crate_of("_ZN4core3fmt5write17h0123456789abcdefE"), "core");
        assert_eq!(
            crate_of("_ZN62_$LT$litegate..eval..Evaluator$u20$as$u20$core..fmt..Debug$GT$3fmt17h0123456789abcdefE"),
            "litegate"
        );
        assert_eq!(
            crate_of("ring_core_0_17_14__x25519_ge_frombytes_vartime"),
            "ring (C/asm)"
        );
        assert_eq!(crate_of("memcpy"), "(C symbols, other)");
    }
}
