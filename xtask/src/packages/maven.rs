//! The Maven publication, proven by consuming it. Gradle and the Android
//! Gradle plugin cannot run here (no Android SDK), so the check publishes
//! the host (JVM) build of the same Kotlin: a jar with the generated and
//! hand-written classes and the Linux library as a JNA resource, a sources
//! jar, a javadoc jar and a POM carrying the fields Maven Central requires,
//! all from `bindings/kotlin/gradle.properties` (the values the AAR's POM
//! uses). `mvn deploy:deploy-file` puts them in a local repository, and a
//! separate Maven project resolves the artifact (JNA 5.18.1 and the Kotlin
//! standard library come transitively from Maven Central) and calls into
//! the library from Java.

use crate::bindings::Generated;
use crate::{root, run};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The POM fields Maven Central requires, as `gradle.properties` keys.
const REQUIRED: [&str; 13] = [
    "GROUP",
    "POM_ARTIFACT_ID",
    "VERSION_NAME",
    "POM_NAME",
    "POM_DESCRIPTION",
    "POM_URL",
    "POM_LICENSE_NAME",
    "POM_LICENSE_URL",
    "POM_SCM_URL",
    "POM_SCM_CONNECTION",
    "POM_SCM_DEV_CONNECTION",
    "POM_DEVELOPER_ID",
    "POM_DEVELOPER_NAME",
];

fn properties(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The POM of the host jar; `dependencies` are `(group, artifact, version)`.
fn pom(
    p: &BTreeMap<String, String>,
    artifact: &str,
    dependencies: &[(&str, &str, &str)],
) -> String {
    let g = |k: &str| xml(p.get(k).map(String::as_str).unwrap_or(""));
    let deps: String = dependencies
        .iter()
        .map(|(g, a, v)| {
            format!(
                "    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>\n"
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>{group}</groupId>
  <artifactId>{artifact}</artifactId>
  <version>{version}</version>
  <packaging>jar</packaging>
  <name>{name} (JVM host build)</name>
  <description>{description}</description>
  <url>{url}</url>
  <licenses>
    <license><name>{license}</name><url>{license_url}</url><distribution>repo</distribution></license>
  </licenses>
  <developers>
    <developer><id>{dev_id}</id><name>{dev_name}</name><email>{dev_email}</email></developer>
  </developers>
  <scm>
    <connection>{scm_connection}</connection>
    <developerConnection>{scm_dev}</developerConnection>
    <url>{scm_url}</url>
  </scm>
  <dependencies>
{deps}  </dependencies>
</project>
"#,
        group = g("GROUP"),
        version = g("VERSION_NAME"),
        name = g("POM_NAME"),
        description = g("POM_DESCRIPTION"),
        url = g("POM_URL"),
        license = g("POM_LICENSE_NAME"),
        license_url = g("POM_LICENSE_URL"),
        dev_id = g("POM_DEVELOPER_ID"),
        dev_name = g("POM_DEVELOPER_NAME"),
        dev_email = g("POM_DEVELOPER_EMAIL"),
        scm_connection = g("POM_SCM_CONNECTION"),
        scm_dev = g("POM_SCM_DEV_CONNECTION"),
        scm_url = g("POM_SCM_URL"),
    )
}

fn jar(out: &Path, dir: &Path) -> Result<()> {
    run(Command::new("jar")
        .arg("cf")
        .arg(out)
        .arg("-C")
        .arg(dir)
        .arg("."))
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        let dest = to.join(path.file_name().context("no file name")?);
        if path.is_dir() {
            copy_tree(&path, &dest)?;
        } else {
            std::fs::copy(&path, &dest)?;
        }
    }
    Ok(())
}

/// The Java class that holds the generated top-level `litegateVersion()`.
fn version_class(kotlin: &Path) -> Result<String> {
    for file in crate::bindings::kotlin_sources(kotlin)? {
        let text = std::fs::read_to_string(&file)?;
        if text.contains("fun `litegateVersion`(") || text.contains("fun litegateVersion(") {
            let stem = file
                .file_stem()
                .and_then(|s| s.to_str())
                .context("file name")?;
            let package = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("package "))
                .unwrap_or("")
                .trim();
            let mut class = stem.to_owned();
            if let Some(first) = class.get(..1) {
                class = first.to_uppercase() + &class[1..];
            }
            return Ok(format!("{package}.{class}Kt"));
        }
    }
    bail!("no generated `litegateVersion()` found")
}

/// Publishes to a local repository and consumes it from a separate project.
pub fn check(generated: &Generated) -> Result<()> {
    let props = properties(&std::fs::read_to_string(
        root().join("bindings/kotlin/gradle.properties"),
    )?);
    for key in REQUIRED {
        if props.get(key).is_none_or(|v| v.is_empty()) {
            bail!("bindings/kotlin/gradle.properties: {key} is required for Maven Central");
        }
    }
    let workspace_version = std::fs::read_to_string(root().join("Cargo.toml"))?
        .lines()
        .find_map(|l| {
            l.strip_prefix("version = \"")
                .map(|v| v.trim_end_matches('"').to_owned())
        })
        .context("no workspace version")?;
    if props["VERSION_NAME"] != workspace_version {
        bail!(
            "gradle.properties VERSION_NAME {} differs from the workspace version {workspace_version}",
            props["VERSION_NAME"]
        );
    }

    let work = root().join("target/maven-check");
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    let classes = work.join("classes");
    crate::bindings::compile_kotlin(generated, &[], &classes)?;
    // The host library as a JNA resource (what an AAR's jni/<abi>/ is to Android).
    let native = classes.join("linux-x86-64");
    std::fs::create_dir_all(&native)?;
    run(Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(native.join("liblitegate_ffi.so"))
        .arg(generated.library_dir.join("liblitegate_ffi.so")))?;
    let sources = work.join("sources");
    copy_tree(&generated.kotlin, &sources)?;
    copy_tree(&root().join("bindings/kotlin/src/main/kotlin"), &sources)?;
    let javadoc = work.join("javadoc");
    std::fs::create_dir_all(&javadoc)?;
    std::fs::write(
        javadoc.join("index.html"),
        "<html><body><p>LiteGate API reference: see the sources jar and bindings/kotlin/README.md.</p></body></html>\n",
    )?;

    let artifact = format!("{}-jvm", props["POM_ARTIFACT_ID"]);
    let version = props["VERSION_NAME"].clone();
    let base = work.join(format!("{artifact}-{version}"));
    let (main_jar, sources_jar, javadoc_jar, pom_file) = (
        base.with_extension("jar"),
        work.join(format!("{artifact}-{version}-sources.jar")),
        work.join(format!("{artifact}-{version}-javadoc.jar")),
        base.with_extension("pom"),
    );
    jar(&main_jar, &classes)?;
    jar(&sources_jar, &sources)?;
    jar(&javadoc_jar, &javadoc)?;
    let jna = crate::bindings::MAVEN_JARS[0];
    let jna_version = jna.rsplit(':').next().unwrap_or("");
    std::fs::write(
        &pom_file,
        pom(
            &props,
            &artifact,
            &[
                ("net.java.dev.jna", "jna", jna_version),
                ("org.jetbrains.kotlin", "kotlin-stdlib", "2.4.20"),
                (
                    "org.jetbrains.kotlinx",
                    "kotlinx-coroutines-core-jvm",
                    "1.8.0",
                ),
            ],
        ),
    )?;
    let repo = work.join("repo");
    run(Command::new("mvn")
        .args(["-q", "-B", "--no-transfer-progress", "deploy:deploy-file"])
        .arg(format!("-Dfile={}", main_jar.display()))
        .arg(format!("-Dsources={}", sources_jar.display()))
        .arg(format!("-Djavadoc={}", javadoc_jar.display()))
        .arg(format!("-DpomFile={}", pom_file.display()))
        .arg(format!("-Durl=file://{}", repo.display()))
        .arg("-DrepositoryId=local"))?;
    let published = repo
        .join(props["GROUP"].replace('.', "/"))
        .join(&artifact)
        .join(&version);
    for suffix in ["jar", "pom"] {
        let file = published.join(format!("{artifact}-{version}.{suffix}"));
        if !file.exists() {
            bail!("{} was not published", file.display());
        }
    }
    for classifier in ["sources", "javadoc"] {
        let file = published.join(format!("{artifact}-{version}-{classifier}.jar"));
        if !file.exists() {
            bail!("{} was not published", file.display());
        }
    }

    // A separate project that depends on the published artifact.
    let consumer = work.join("consumer");
    let java_dir = consumer.join("src/main/java/app");
    std::fs::create_dir_all(&java_dir)?;
    std::fs::write(
        consumer.join("pom.xml"),
        format!(
            r#"<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>app</groupId><artifactId>consumer</artifactId><version>1</version>
  <repositories><repository><id>litegate-local</id><url>file://{repo}</url></repository></repositories>
  <dependencies>
    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{version}</version></dependency>
  </dependencies>
</project>
"#,
            repo = repo.display(),
            group = props["GROUP"],
        ),
    )?;
    // Maven caches what it resolved from `litegate-local` in the user's
    // local repository and never fetches a release version again: drop any
    // earlier run's copy so the consumer gets the jar published just now.
    if let Some(home) = std::env::var_os("HOME") {
        let cached = std::path::PathBuf::from(home)
            .join(".m2/repository")
            .join(props["GROUP"].replace('.', "/"))
            .join(&artifact);
        if cached.exists() {
            std::fs::remove_dir_all(&cached)?;
        }
    }
    let cp_file = consumer.join("classpath.txt");
    run(Command::new("mvn")
        .current_dir(&consumer)
        .args(["-q", "-B", "--no-transfer-progress", "-f"])
        .arg(consumer.join("pom.xml"))
        .arg("dependency:build-classpath")
        .arg(format!("-Dmdep.outputFile={}", cp_file.display())))?;
    let class_path = std::fs::read_to_string(&cp_file)?;
    for needle in [
        format!("{artifact}-{version}.jar"),
        format!("jna-{jna_version}.jar"),
    ] {
        if !class_path.contains(&needle) {
            bail!("the consumer's resolved class path lacks {needle}: {class_path}");
        }
    }
    let class = version_class(&generated.kotlin)?;
    std::fs::write(
        java_dir.join("Main.java"),
        format!(
            "package app;\npublic class Main {{\n  public static void main(String[] a) {{\n    System.out.println(\"litegate \" + {class}.litegateVersion());\n  }}\n}}\n"
        ),
    )?;
    let out_dir = consumer.join("classes");
    run(Command::new("javac")
        .arg("-d")
        .arg(&out_dir)
        .arg("-cp")
        .arg(&class_path)
        .arg(java_dir.join("Main.java")))?;
    let out = Command::new("java")
        .arg("-cp")
        .arg(format!("{}:{class_path}", out_dir.display()))
        .arg("app.Main")
        .output()
        .context("cannot run java")?;
    let printed = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !printed.contains(&format!("litegate {workspace_version}")) {
        bail!(
            "the consumer could not call LiteGate: {printed}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    println!(
        "Maven publication: {}:{artifact}:{version} (jar, sources, javadoc, POM) deployed to {} and consumed: {}",
        props["GROUP"],
        repo.display(),
        printed.trim()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradle_properties_hold_every_field_central_requires() {
        let props = properties(
            &std::fs::read_to_string(root().join("bindings/kotlin/gradle.properties")).unwrap(),
        );
        for key in REQUIRED {
            assert!(props.get(key).is_some_and(|v| !v.is_empty()), "{key}");
        }
        let pom = pom(&props, "x", &[("net.java.dev.jna", "jna", "5.18.1")]);
        for tag in [
            "<url>",
            "<licenses>",
            "<scm>",
            "<developers>",
            "<description>",
            "<name>",
        ] {
            assert!(pom.contains(tag), "{tag}");
        }
    }

    #[test]
    fn the_build_script_uses_jna_5_18_1_or_later() {
        let gradle =
            std::fs::read_to_string(root().join("bindings/kotlin/build.gradle.kts")).unwrap();
        for line in gradle
            .lines()
            .filter(|l| l.contains("net.java.dev.jna:jna:"))
        {
            let version = line
                .split("net.java.dev.jna:jna:")
                .nth(1)
                .unwrap()
                .split(['@', '"'])
                .next()
                .unwrap();
            let parts: Vec<u32> = version.split('.').map(|p| p.parse().unwrap()).collect();
            assert!(parts >= vec![5, 18, 1], "{line}");
        }
        for needle in [
            "withJavadocJar()",
            "withSourcesJar()",
            "useInMemoryPgpKeys",
            "scm {",
            "developers {",
        ] {
            assert!(gradle.contains(needle), "{needle}");
        }
    }
}
