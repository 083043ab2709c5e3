import Foundation
import XCTest

@testable import LiteGate

final class ConcurrencyTests: LiteGateTestCase {
    func test_eight_threads_evaluate_at_once() throws {
        let client = try startClient()
        let mismatches = ManagedAtomicCounter()
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for i in 0..<2_000 {
                let d = client.floatDetails(
                    key: "split_half", defaultValue: 0,
                    context: EvaluationContext(targetingKey: "user-\(t)-\(i)"))
                let expected = (d.bucket ?? 100_000) < 50_000 ? 0.75 : 0.25
                if d.value != expected || d.bucket == nil {
                    mismatches.increment()
                }
                if i % 100 == 0 {
                    client.setOverride(flag: "fixed_on", variation: "on")
                    client.clearOverride(flag: "fixed_on")
                }
            }
        }
        XCTAssertEqual(mismatches.value, 0)
    }
}

/// A lock-protected counter (XCTest assertions are not thread-safe).
final class ManagedAtomicCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func increment() {
        lock.lock()
        count += 1
        lock.unlock()
    }

    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}
