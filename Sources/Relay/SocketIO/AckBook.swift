import NIOCore

/// The acknowledgements a socket is waiting for: a pure value, so its rules are tested without
/// sockets, timers or tasks (the ``Socket`` keeps one under its lock and does the effects).
///
/// Rules (Socket.IO v5 protocol, "Acknowledgement"): each `emitWithAck` takes the next id,
/// counting from 0 per socket as Node's `Socket.ids`; an ACK packet settles the waiter with its
/// id once; an ACK with an unknown or already settled id is ignored; once the socket is closed
/// no id is handed out and every waiter left is returned to be failed exactly once.
struct AckBook<Waiter> {
    private(set) var nextID = 0
    private var waiting: [Int: Waiter] = [:]
    private(set) var isClosed = false

    /// How many waiters have not been settled.
    var count: Int { waiting.count }

    /// Takes the next id for `waiter`; nil once closed (the caller fails it as disconnected).
    /// Ids wrap at `Int.max` rather than trap; a socket never lives that long.
    mutating func register(_ waiter: Waiter) -> Int? {
        guard !isClosed else { return nil }
        let id = nextID
        nextID = nextID == Int.max ? 0 : nextID + 1
        waiting[id] = waiter
        return id
    }

    /// The waiter for an arriving ACK (or a timeout) with this id, removed; nil when the id is
    /// unknown or was already settled, so every waiter is settled at most once.
    mutating func settle(_ id: Int) -> Waiter? {
        waiting.removeValue(forKey: id)
    }

    /// Changes a pending waiter in place (nothing happens for a settled id).
    mutating func update(_ id: Int, _ change: (inout Waiter) -> Void) {
        if var waiter = waiting[id] {
            change(&waiter)
            waiting[id] = waiter
        }
    }

    /// Closes the book: no more ids; returns the waiters still pending (each only once).
    mutating func close() -> [Waiter] {
        isClosed = true
        defer { waiting = [:] }
        return waiting.sorted { $0.key < $1.key }.map(\.value)
    }
}

extension AckBook where Waiter == Socket.PendingAck {
    /// Attaches the timeout timer to a waiter registered a moment ago (under the same lock).
    mutating func setTimer(for id: Int, _ timer: Scheduled<Void>) {
        update(id) { $0.timer = timer }
    }
}
