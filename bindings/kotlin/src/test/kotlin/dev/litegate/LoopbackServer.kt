package dev.litegate

import com.sun.net.httpserver.HttpServer
import java.net.InetAddress
import java.net.InetSocketAddress
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicReference
import java.util.zip.GZIPInputStream

/** A request the loopback server received. */
data class Received(val path: String, val headers: Map<String, String>, val body: String)

/**
 * A real HTTP server on 127.0.0.1 (an ephemeral port) for tests: serves
 * [document] at `/config`, and records every POST (gunzipped) for the
 * metrics tests.
 */
class LoopbackServer : AutoCloseable {
    private val server = HttpServer.create(InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0)
    val document = AtomicReference<ByteArray?>(null)
    val posts = LinkedBlockingQueue<Received>()

    init {
        server.createContext("/") { exchange ->
            exchange.use {
                val path = it.requestURI.path
                if (it.requestMethod == "GET" && path == "/config") {
                    val body = document.get()
                    if (body == null) {
                        it.sendResponseHeaders(404, -1)
                    } else {
                        it.responseHeaders.add("Content-Type", "application/json")
                        it.sendResponseHeaders(200, body.size.toLong())
                        it.responseBody.write(body)
                    }
                } else if (it.requestMethod == "POST") {
                    val headers = it.requestHeaders.entries.associate { (k, v) -> k.lowercase() to v.joinToString(",") }
                    val raw = it.requestBody.readBytes()
                    val body = if (headers["content-encoding"] == "gzip") GZIPInputStream(raw.inputStream()).readBytes() else raw
                    posts.add(Received(path, headers, body.decodeToString()))
                    it.sendResponseHeaders(200, -1)
                } else {
                    it.sendResponseHeaders(405, -1)
                }
            }
        }
        server.start()
    }

    /** The server's base URL, e.g. `http://127.0.0.1:41234`. */
    val url: String get() = "http://127.0.0.1:${server.address.port}"

    /** The next POST to [path], waiting at most [seconds]. */
    fun nextPost(path: String, seconds: Long = 60): Received? {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds)
        while (true) {
            val left = deadline - System.nanoTime()
            if (left <= 0) return null
            val r = posts.poll(left, TimeUnit.NANOSECONDS) ?: return null
            if (r.path == path) return r
        }
    }

    /**
     * Every POST to [path] so far, waiting at most [seconds] for more until
     * their bodies together satisfy [done]. A flush may split data over
     * several uploads, so tests judge the union.
     */
    fun postsUntil(path: String, seconds: Long = 60, done: (List<Received>) -> Boolean): List<Received> {
        val seen = mutableListOf<Received>()
        val others = mutableListOf<Received>()
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds)
        while (!done(seen)) {
            val left = deadline - System.nanoTime()
            if (left <= 0) break
            val r = posts.poll(left, TimeUnit.NANOSECONDS) ?: break
            if (r.path == path) seen.add(r) else others.add(r)
        }
        posts.addAll(others)
        return seen
    }

    override fun close() = server.stop(0)
}
