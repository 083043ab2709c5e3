// LiteGate for Android: the UniFFI-generated Kotlin (package dev.litegate),
// the hand-written layer in src/main/kotlin, and liblitegate_ffi.so per ABI,
// packaged as an AAR. See README.md for the toolchain and release steps.
import org.gradle.api.tasks.Exec

plugins {
    id("com.android.library") version "8.7.3"
    id("org.jetbrains.kotlin.android") version "2.1.0"
    id("maven-publish")
}

val repoRoot: File = rootDir.resolve("../..").canonicalFile
val cargoProfile: String = (findProperty("litegate.cargoProfile") as String?) ?: "release"
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
        singleVariant("release") { withSourcesJar() }
    }
}

kotlin {
    jvmToolchain(17)
    compilerOptions { allWarningsAsErrors.set(true) }
}

dependencies {
    // The @aar artifact carries libjnidispatch.so for every Android ABI.
    implementation("net.java.dev.jna:jna:5.14.0@aar")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.9.0")

    testImplementation("net.java.dev.jna:jna:5.14.0")
    testImplementation("org.junit.jupiter:junit-jupiter:5.11.3")
    testRuntimeOnly("org.junit.platform:junit-platform-launcher")
}

// liblitegate_ffi.so for each ABI, with cargo-ndk (`cargo install cargo-ndk`;
// ANDROID_NDK_HOME must point at NDK r26 or newer).
val cargoNdkBuild by tasks.registering(Exec::class) {
    group = "rust"
    description = "Builds liblitegate_ffi.so for $abis with cargo-ndk"
    workingDir = repoRoot
    val args = mutableListOf("cargo", "ndk")
    abis.forEach { args += listOf("-t", it) }
    args += listOf("-o", rustJniLibs.get().asFile.path, "--platform", "24", "build", "-p", "litegate-ffi", "--lib")
    if (cargoProfile == "release") args += "--release"
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
    val library = repoRoot.resolve("target/aarch64-linux-android/$cargoProfile/liblitegate_ffi.so")
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

publishing {
    publications {
        register<MavenPublication>("release") {
            groupId = property("GROUP") as String
            artifactId = "litegate-android"
            version = property("VERSION_NAME") as String
            afterEvaluate { from(components["release"]) }
            pom {
                name.set("LiteGate for Android")
                description.set("On-device rollout control for LiteRT models: flags, inference with fallback, metrics and guardrails.")
                licenses { license { name.set("Apache-2.0") } }
            }
        }
    }
    repositories {
        maven {
            name = "local"
            url = uri(layout.buildDirectory.dir("repo"))
        }
    }
}
