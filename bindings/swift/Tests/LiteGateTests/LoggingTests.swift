import Foundation
import XCTest

@testable import LiteGate

final class LoggingTests: LiteGateTestCase {
    func test_sink_receives_records_at_its_level_and_above() throws {
        let records = RecordList()
        try LiteGateLogging.install(level: .info) { records.append($0) }
        _ = try startClient()
        let started = records.all.filter { $0.target == "litegate::ffi" && $0.message.hasPrefix("client started") }
        XCTAssertEqual(started.count, 1, "\(records.all)")
        XCTAssertEqual(started.first?.level, .info)
        XCTAssertTrue(started.first?.message.contains("config_version=7") ?? false)

        try LiteGateLogging.install(level: .warn) { records.append($0) }
        records.clear()
        let client = try startClient()
        XCTAssertTrue(records.all.allSatisfy { $0.level != .info }, "\(records.all)")
        var bad = EvaluationContext(targetingKey: "u")
        bad.custom = ["v": .version(value: "x.y")]
        _ = client.boolDetails(key: "fixed_on", defaultValue: false, context: bad)
        XCTAssertTrue(records.all.contains { $0.level == .warn && $0.message.contains("context refused") })
    }

    func test_no_records_after_uninstall() throws {
        let records = RecordList()
        try LiteGateLogging.install(level: .trace) { records.append($0) }
        LiteGateLogging.uninstall()
        _ = try startClient()
        XCTAssertEqual(records.all, [])
    }
}

final class RecordList: @unchecked Sendable {
    private let lock = NSLock()
    private var records: [LogRecord] = []

    func append(_ record: LogRecord) {
        lock.lock()
        records.append(record)
        lock.unlock()
    }

    func clear() {
        lock.lock()
        records.removeAll()
        lock.unlock()
    }

    var all: [LogRecord] {
        lock.lock()
        defer { lock.unlock() }
        return records
    }
}
