// LiteGate for Android: the UniFFI-generated Kotlin (package dev.litegate),
// the hand-written layer in src/main/kotlin, and liblitegate_ffi.so per ABI,
// packaged as an AAR. See README.md for the toolchain and release steps.
import org.gradle.api.tasks.Exec

plugins {
    id("com.android.library") version "8.7.3"
    id("org.jetbrains.kotlin.android") version "2.1.0"
    id("maven-publish")
    id("signing")
}

val repoRoot: File = rootDir.resolve("../..").canonicalFile
// `mobile` (Cargo.toml): the size-tuned profile apps ship; `release` or `dev` for local work.
val cargoProfile: String = (findProperty("litegate.cargoProfile") as String?) ?: "mobile"
val abis: List<String> = ((findProperty("litegate.abis") as String?) ?: "arm64-v8a,armeabi-v7a,x86_64")
    .split(",").map { it.trim() }.filter { it.isNotEmpty() }
val rustJniLibs = layout.buildDirectory.dir("rustJniLibs/android")
val generatedKotlin = layout.buildDirectory.dir("generated/source/uniffi/kotlin")
val hostLibDir = repoRoot.resolve("target/debug")

android {
    namespace = "dev.litegate"
    compileSdk = 35

    defaultConfig {
        minSdk = 24
        consumerProguardFiles("consumer-rules.pro")
        aarMetadata { minCompileSdk = 24 }
    }

    buildTypes {
        release { isMinifyEnabled = false }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    sourceSets["main"].apply {
        java.srcDir(generatedKotlin)
        jniLibs.srcDir(rustJniLibs)
    }

    testOptions {
        unitTests.all {
            it.useJUnitPlatform()
            // JVM unit tests load the host build of the library through JNA.
            it.systemProperty("jna.library.path", hostLibDir.path)
            it.systemProperty("litegate.fixtures", repoRoot.resolve("crates/litegate-ffi/tests/fixtures").path)
            it.dependsOn("cargoHostBuild")
        }
    }

    publishing {
        singleVariant("release") {
            withSourcesJar()
            withJavadocJar()
        }
    }
}

kotlin {
    jvmToolchain(17)
    compilerOptions { allWarningsAsErrors.set(true) }
}

dependencies {
    // The @aar artifact carries libjnidispatch.so for every Android ABI.
    // 5.18.1 or later: 16 KB page support (5.17) and its init race fixed (5.18.1).
    implementation("net.java.dev.jna:jna:5.18.1@aar")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.9.0")

    testImplementation("net.java.dev.jna:jna:5.18.1")
    testImplementation("org.junit.jupiter:junit-jupiter:5.11.3")
    testRuntimeOnly("org.junit.platform:junit-platform-launcher")
}

// liblitegate_ffi.so for each ABI, with cargo-ndk (`cargo install cargo-ndk`;
// ANDROID_NDK_HOME must point at NDK r28 or newer, which aligns to 16 KB by
// default). The 16 KB page and identical-code-folding linker flags come from
// the repo's .cargo/config.toml for every Android target.
val cargoNdkBuild by tasks.registering(Exec::class) {
    group = "rust"
    description = "Builds liblitegate_ffi.so for $abis with cargo-ndk"
    workingDir = repoRoot
    val args = mutableListOf("cargo", "ndk")
    abis.forEach { args += listOf("-t", it) }
    args += listOf("-o", rustJniLibs.get().asFile.path, "--platform", "24", "build", "-p", "litegate-ffi", "--lib")
    args += listOf("--profile", cargoProfile)
    commandLine(args)
    inputs.dir(repoRoot.resolve("crates"))
    outputs.dir(rustJniLibs)
}

// The generated Kotlin, from the arm64 library (UniFFI library mode; every
// ABI carries the same metadata). Never committed.
val generateUniffiBindings by tasks.registering(Exec::class) {
    group = "rust"
    description = "Generates the Kotlin bindings into build/generated"
    dependsOn(cargoNdkBuild)
    workingDir = repoRoot
    val profileDir = if (cargoProfile == "dev") "debug" else cargoProfile
    val library = repoRoot.resolve("target/aarch64-linux-android/$profileDir/liblitegate_ffi.so")
    commandLine(
        "cargo", "run", "--quiet",
        "--manifest-path", "crates/uniffi-bindgen/Cargo.toml",
        "--target-dir", "target/uniffi-bindgen", "--",
        "generate", "--language", "kotlin", "--no-format",
        "--out-dir", generatedKotlin.get().asFile.path,
        library.path,
    )
    inputs.file(library)
    outputs.dir(generatedKotlin)
}

// The host library for JVM unit tests.
val cargoHostBuild by tasks.registering(Exec::class) {
    group = "rust"
    workingDir = repoRoot
    commandLine("cargo", "build", "-p", "litegate-ffi", "--lib")
}

tasks.named("preBuild") { dependsOn(generateUniffiBindings) }

fun prop(name: String): String = property(name) as String

publishing {
    publications {
        register<MavenPublication>("release") {
            groupId = prop("GROUP")
            artifactId = prop("POM_ARTIFACT_ID")
            version = prop("VERSION_NAME")
            afterEvaluate { from(components["release"]) }
            // What Maven Central requires: name, description, url, licenses,
            // scm, developers (plus sources and javadoc jars and signatures).
            pom {
                name.set(prop("POM_NAME"))
                description.set(prop("POM_DESCRIPTION"))
                url.set(prop("POM_URL"))
                licenses {
                    license {
                        name.set(prop("POM_LICENSE_NAME"))
                        url.set(prop("POM_LICENSE_URL"))
                        distribution.set("repo")
                    }
                }
                scm {
                    url.set(prop("POM_SCM_URL"))
                    connection.set(prop("POM_SCM_CONNECTION"))
                    developerConnection.set(prop("POM_SCM_DEV_CONNECTION"))
                }
                developers {
                    developer {
                        id.set(prop("POM_DEVELOPER_ID"))
                        name.set(prop("POM_DEVELOPER_NAME"))
                        email.set(prop("POM_DEVELOPER_EMAIL"))
                    }
                }
            }
        }
    }
    repositories {
        maven {
            name = "local"
            url = uri(layout.buildDirectory.dir("repo"))
        }
        // Maven Central through the Central Portal's OSSRH-compatible staging
        // API; credentials from ~/.gradle/gradle.properties or
        // ORG_GRADLE_PROJECT_mavenCentralUsername / ..._mavenCentralPassword.
        maven {
            name = "mavenCentral"
            url = uri(
                (findProperty("litegate.releaseRepositoryUrl") as String?)
                    ?: "https://ossrh-staging-api.central.sonatype.com/service/local/staging/deploy/maven2/",
            )
            credentials {
                username = findProperty("mavenCentralUsername") as String?
                password = findProperty("mavenCentralPassword") as String?
            }
        }
    }
}

// Signing by properties: `signingInMemoryKey` (ASCII-armoured private key),
// `signingInMemoryKeyId` (optional) and `signingInMemoryKeyPassword`, e.g. as
// ORG_GRADLE_PROJECT_signingInMemoryKey in CI. Without a key, local builds
// stay unsigned; publishing to Maven Central requires one.
signing {
    val key = findProperty("signingInMemoryKey") as String?
    if (key != null) {
        useInMemoryPgpKeys(
            findProperty("signingInMemoryKeyId") as String?,
            key,
            findProperty("signingInMemoryKeyPassword") as String?,
        )
    }
    isRequired = key != null || gradle.startParameter.taskNames.any { it.contains("MavenCentral") }
    sign(publishing.publications)
}
