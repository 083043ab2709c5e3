package dev.litegate

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.RegisterExtension
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.security.MessageDigest

/**
 * Mirrors crates/litegate/tests/client_models.rs through the FFI: the real
 * LiteRT 2.3.0 and the real face detector that `cargo xtask setup` installs.
 */
class InferenceTest {
    @JvmField
    @RegisterExtension
    val litegate = LiteGateTestExtension()

    private val litert = File(System.getProperty("litegate.litert") ?: "")
    private val faceModel = File(System.getProperty("litegate.faceModel") ?: "")

    private fun modelBytes(): ByteArray {
        assumeTrue(litert.isFile && faceModel.isFile, "run `cargo xtask setup` for LiteRT and the face detector")
        return faceModel.readBytes()
    }

    private fun sha256(bytes: ByteArray) =
        MessageDigest.getInstance("SHA-256").digest(bytes).joinToString("") { "%02x".format(it) }

    private fun switch(on: Boolean) =
        """{"type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off", "fallthrough": {"variation": "${if (on) "on" else "off"}"}}"""

    private fun client(model: ByteArray, flags: Map<String, Boolean>, sha: String = sha256(model)): LiteGateClient {
        val flagJson = flags.entries.joinToString(",") { (k, v) -> "\"$k\": ${switch(v)}" }
        val doc = """{"format_version": 1, "environment": "production", "version": 3,
            "models": {"face": {"version": "0.6.0", "sha256": "$sha", "size": ${model.size}, "engine": "litert"}},
            "flags": {$flagJson}}"""
        return litegate.start(
            litegate.options(doc.toByteArray()).copy(
                litertLibrary = litert.path,
                defaultContext = EvaluationContext(targetingKey = "u1"),
            ),
        )
    }

    private fun input(): TensorData {
        val buf = ByteBuffer.allocate(128 * 128 * 3 * 4).order(ByteOrder.LITTLE_ENDIAN)
        repeat(128 * 128 * 3) { buf.putFloat(0.5f) }
        return TensorData("input", TensorType.F32, listOf(1L, 128L, 128L, 3L), buf.array())
    }

    private class Cloud : CloudFallback {
        val calls = mutableListOf<String>()
        override fun run(model: String, inputs: List<TensorData>): List<TensorData> {
            calls.add("$model:${inputs.size}")
            val out = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(42f).array()
            return listOf(TensorData("cloud", TensorType.F32, listOf(1L), out))
        }
    }

    @Test
    fun runs_locally_with_fallback_to_cpu() {
        val bytes = modelBytes()
        val client = client(bytes, mapOf("litert_enabled" to true, "litert_gpu_backend" to true, "litert_npu_backend" to true))
        val model = client.loadModel("face", bytes)
        assertEquals("face", model.key())
        assertEquals(listOf(TensorInfo("input", TensorType.F32, listOf(1L, 128L, 128L, 3L))), model.inputs())
        val cloud = Cloud()
        when (val result = client.runModel(model, listOf(input()), cloud)) {
            is ModelRunResult.Local -> {
                // No GPU or NPU on this machine: both were tried alone, the CPU ran.
                assertEquals(AcceleratorKind.CPU, result.accelerator)
                assertEquals("litert", result.engine)
                assertEquals(listOf(listOf(1L, 896L, 16L), listOf(1L, 896L, 1L)), result.outputs.map { it.shape }.sortedBy { -it[2] })
                assertEquals(896 * 16 * 4, result.outputs.first { it.shape[2] == 16L }.data.size)
            }
            else -> throw AssertionError("expected a local run, got $result")
        }
        assertEquals(emptyList<String>(), cloud.calls)
        assertTrue(client.status().runtimes.any { it.startsWith("litert 2.") }, client.status().runtimes.toString())
    }

    @Test
    fun app_fallback_when_local_inference_is_off() {
        val bytes = modelBytes()
        val client = client(bytes, mapOf("litert_enabled" to false))
        val model = client.loadModel("face", bytes)
        val cloud = Cloud()
        when (val result = client.runModel(model, listOf(input()), cloud)) {
            is ModelRunResult.AppFallback -> {
                assertEquals("cloud", result.outputs.single().name)
                assertTrue(result.reasons.isNotEmpty())
            }
            else -> throw AssertionError("expected the app path, got $result")
        }
        assertEquals(listOf("face:1"), cloud.calls)
        // Without a fallback, nothing can run.
        assertTrue(client.runModel(model, listOf(input())) is ModelRunResult.Unavailable)
    }

    @Test
    fun unavailable_when_the_cloud_flag_is_off() {
        val bytes = modelBytes()
        val client = client(bytes, mapOf("litert_enabled" to false, "ai_fallback_to_cloud" to false))
        val model = client.loadModel("face", bytes)
        val cloud = Cloud()
        val result = client.runModel(model, listOf(input()), cloud)
        assertTrue(result is ModelRunResult.Unavailable, result.toString())
        assertFalse((result as ModelRunResult.Unavailable).cloudFallbackAllowed)
        assertEquals(emptyList<String>(), cloud.calls)
    }

    @Test
    fun a_throwing_cloud_fallback_reports_unavailable() {
        val bytes = modelBytes()
        val client = client(bytes, mapOf("litert_enabled" to false))
        val model = client.loadModel("face", bytes)
        val failing = object : CloudFallback {
            override fun run(model: String, inputs: List<TensorData>): List<TensorData> =
                throw IllegalStateException("offline")
        }
        val result = client.runModel(model, listOf(input()), failing)
        assertTrue(result is ModelRunResult.Unavailable, result.toString())
        assertTrue((result as ModelRunResult.Unavailable).reasons.any { "offline" in it }, result.reasons.toString())
    }

    @Test
    fun integrity_and_input_errors_are_exceptions() {
        val bytes = modelBytes()
        val tampered = client(bytes, emptyMap(), sha = "0".repeat(64))
        assertThrows<LiteGateException.Model> { tampered.loadModel("face", bytes) }
        val client = client(bytes, emptyMap())
        assertThrows<LiteGateException.Model> { client.loadModel("missing", bytes) }
        val model = client.loadModel("face", bytes)
        val wrong = TensorData("input", TensorType.F32, listOf(1L, 2L), ByteArray(8))
        val e = assertThrows<LiteGateException.InvalidInput> { client.runModel(model, listOf(wrong)) }
        assertTrue(e.message!!.startsWith("model `face`: invalid input"), e.message)
    }
}
