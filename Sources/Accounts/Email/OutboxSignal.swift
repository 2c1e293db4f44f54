import Synchronization

/// Wakes an ``OutboxWorker`` early: when mail is enqueued in this process, or to stop.
///
/// Signals are not counted: several wakes before the worker looks make one.
public final class OutboxSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    public init() {}

    /// Wakes the worker, or makes its next wait return at once.
    public func wake() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns after a wake or `timeout`, whichever comes first (or when the task is cancelled).
    /// Returns true when woken. One waiter at a time.
    @discardableResult
    func wait(upTo timeout: Duration) async -> Bool {
        if state.withLock({ state in defer { state.pending = false }; return state.pending }) { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            group.addTask { await self.nextWake() }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    private func nextWake() async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    if Task.isCancelled { return true }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            return !Task.isCancelled
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }
}
