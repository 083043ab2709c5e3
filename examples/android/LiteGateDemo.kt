// The LiteGate journey in an Android app (Kotlin): start, log, set the
// context, evaluate. A snippet to copy into an Application or ViewModel;
// it depends on dev.litegate:litegate-android (bindings/kotlin).
package com.example.litegate

import android.content.Context
import android.os.Build
import android.util.Log
import dev.litegate.ClientOptions
import dev.litegate.EvaluationContext
import dev.litegate.LiteGateClient
import dev.litegate.LiteGateException
import dev.litegate.LiteGateLogging
import dev.litegate.LogLevel
import dev.litegate.Reason
import dev.litegate.attributes
import dev.litegate.openFeatureName
import dev.litegate.priority
import java.io.File

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

    /** Evaluate: never throws, never blocks on the network. */
    fun chooseFaceModel(): String {
        val details = client.stringDetails("face_model_v2", "face-detector@1.0.0")
        if (details.reason is Reason.KillSwitch) {
            Log.w("LiteGate", "face_model_v2 switched off remotely: ${details.reason}")
        }
        Log.i("LiteGate", "face model ${details.value} (${details.reason.openFeatureName})")
        return details.value
    }
}
