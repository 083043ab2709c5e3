// The LiteGate journey in an Android app (Kotlin): start, log, set the
// context, evaluate, watch events, run a model with fallback, report
// outcomes to guardrails, go offline, record, flush. A snippet to copy into an Application or ViewModel;
// it depends on dev.litegate:litegate-android (bindings/kotlin).
package com.example.litegate

import android.content.Context
import android.os.Build
import android.util.Log
import dev.litegate.ClientEvent
import dev.litegate.ClientOptions
import dev.litegate.events
import dev.litegate.CloudFallback
import dev.litegate.EventValue
import dev.litegate.ModelRunResult
import dev.litegate.TensorData
import dev.litegate.flushMetrics
import dev.litegate.EvaluationContext
import dev.litegate.LiteGateClient
import dev.litegate.LiteGateException
import dev.litegate.LiteGateLogging
import dev.litegate.LogLevel
import dev.litegate.Reason
import dev.litegate.attributes
import dev.litegate.openFeatureName
import dev.litegate.priority
import dev.litegate.boolValue
import dev.litegate.stringDetails
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import java.io.File
import kotlin.time.Duration.Companion.seconds

class LiteGateDemo(private val app: Context) {
    /** Start once, at app start: returns at once with the bundled or cached config. */
    val client: LiteGateClient = try {
        LiteGateLogging.install(LogLevel.INFO) { Log.println(it.level.priority, "LiteGate", "${it.target}: ${it.message}") }
        LiteGateClient.start(
            ClientOptions(
                appId = app.packageName,
                environment = "production",
                configUrl = "https://config.example.com/rollout.json",
                bootstrap = app.assets.open("rollout.json").use { it.readBytes() },
                storageDir = File(app.filesDir, "litegate").path,
                metricsEndpoint = "https://otlp.example.com",
                metricsHeaders = mapOf("x-api-key" to BuildConfig.OTLP_KEY),
                pollIntervalSeconds = 300u,
                staleAfterIntervals = 3u, // ClientEvent.Stale after 15 minutes without a successful fetch
                defaultContext = EvaluationContext(
                    targetingKey = "anonymous",
                    os = "android",
                    osVersion = Build.VERSION.RELEASE,
                    deviceModel = Build.MODEL,
                ),
            ),
        )
    } catch (e: LiteGateException) {
        // A wrong bundled config is a build error: fail loudly in debug builds.
        throw IllegalStateException("LiteGate cannot start: ${e.message}", e)
    }

    /** Watch what happens to the client: errors as well as changes. */
    fun watch(scope: CoroutineScope) = scope.launch {
        client.events().collect { event ->
            when (event) {
                is ClientEvent.ConfigRefused -> Log.e("LiteGate", "config refused (${event.kind}): ${event.reason}")
                is ClientEvent.Stale -> Log.w("LiteGate", "no config fetch for ${event.intervals} intervals")
                is ClientEvent.GuardrailTripped -> Log.w("LiteGate", "guardrail ${event.trip.guardrail}: ${event.trip.summary}")
                is ClientEvent.ModelFallback -> Log.i("LiteGate", "${event.model}: ${event.from} -> ${event.to}: ${event.error}")
                else -> Log.d("LiteGate", event.toString())
            }
        }
    }

    /** Airplane mode or the user's data saver: no network at all; flags keep working. */
    fun networkAllowed(allowed: Boolean) = client.setOffline(!allowed)

    /** After sign-in: every evaluation now targets this user. */
    fun signedIn(userId: String, appVersion: String, ramMb: Double, tier: String) {
        client.setContext(
            EvaluationContext(
                targetingKey = userId,
                os = "android",
                osVersion = Build.VERSION.RELEASE,
                appVersion = appVersion,
                deviceModel = Build.MODEL,
                ramMb = ramMb,
                custom = attributes("tier" to tier),
            ),
        )
    }

    /**
     * Per-row flag reads while binding a list: each read is a lookup in the
     * client's flag snapshot (well under a microsecond, exposure included),
     * so reading flags in `onBindViewHolder` is fine.
     */
    fun rowShowsBadge(): Boolean = client.boolValue("feed_badge", false)

    /** Evaluate: never throws, never blocks on the network. */
    fun chooseFaceModel(): String {
        val details = client.stringDetails("face_model_v2", "face-detector@1.0.0")
        if (details.reason is Reason.KillSwitch) {
            Log.w("LiteGate", "face_model_v2 switched off remotely: ${details.reason}")
        }
        Log.i("LiteGate", "face model ${details.value} (${details.reason.openFeatureName})")
        return details.value
    }

    /**
     * Run the face detector on the best local accelerator the flags and the
     * device allow (NPU, GPU, CPU), else on the app's cloud endpoint when
     * the `ai_fallback_to_cloud` flag allows it.
     */
    suspend fun detectFaces(modelFile: File, image: TensorData, cloud: CloudFallback): List<TensorData>? {
        // Real suspend calls: the load and the run happen on LiteGate's own pool.
        val model = client.loadModelFileAsync("face_detector", modelFile.path) // verified against the config's SHA-256
        return when (val result = client.runModelAsync(model, listOf(image), cloud)) {
            is ModelRunResult.Local -> {
                client.track("faces_detected", mapOf("accelerator" to EventValue.Text(result.accelerator.name)))
                result.outputs
            }
            is ModelRunResult.AppFallback -> result.outputs
            is ModelRunResult.Unavailable -> null // show the non-AI path
        }
    }

    /** Tell the guardrails how the feature behind a flag went: failures above the threshold roll it back here. */
    fun faceUnlockFinished(ok: Boolean, latencyMs: Double) {
        client.recordOutcome("face_model_v2", ok, latencyMs)
    }

    /** Record the app's own metrics next to LiteGate's. */
    fun checkoutCompleted(items: Int, latencyMs: Double) {
        client.count("checkouts", 1uL, mapOf("screen" to "cart"))
        client.record("checkout_latency_ms", latencyMs, emptyMap())
        client.track("checkout", mapOf("items" to EventValue.Int(items.toLong())))
    }

    /** When the app goes to the background: upload what is pending. */
    suspend fun onBackground() {
        runCatching { client.flushMetrics(5.seconds) } // what fails stays persisted for the next start
    }
}
