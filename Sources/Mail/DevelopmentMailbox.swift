import Foundation
import Logging
import Synchronization

/// The sender used in development, when no provider is configured: it keeps
/// the last ``capacity`` mails in memory for a `/dev/mailbox` page and logs
/// each at info with its subject, recipients and first link, so a developer
/// can follow a verification or reset link from the console.
///
/// Development only: the log line carries a link with a one-time token.
public final class DevelopmentMailbox: MailSender {
    /// One stored mail.
    public struct Message: Sendable, Hashable, Identifiable {
        /// The synthetic provider id returned by `send`.
        public var id: String
        public var idempotencyKey: String
        public var receivedAt: Date
        public var mail: OutgoingMail
    }

    /// How many mails are kept; older ones are dropped.
    public let capacity: Int
    private let logger: Logger
    private let now: @Sendable () -> Date
    private let state: Mutex<State>

    private struct State {
        /// Oldest first; appended at the end.
        var messages: [Message] = []
        var sequence = 0
    }

    public convenience init(capacity: Int = 100, logger: Logger) {
        self.init(capacity: capacity, logger: logger, now: { Date() })
    }

    /// - Parameter now: The clock stamping ``Message/receivedAt`` (tests pass their own).
    public init(capacity: Int, logger: Logger, now: @escaping @Sendable () -> Date) {
        precondition(capacity >= 1, "capacity must be at least 1")
        self.capacity = capacity
        self.logger = logger
        self.now = now
        self.state = Mutex(State())
    }

    /// Stores the mail. A second send with an idempotency key still in the
    /// mailbox returns the first one's id and stores nothing, as a provider would.
    public func send(_ mail: OutgoingMail, idempotencyKey: String) async throws -> SentMail {
        let receivedAt = self.now()
        let (message, isNew) = self.state.withLock { state -> (Message, Bool) in
            if let existing = state.messages.last(where: { $0.idempotencyKey == idempotencyKey }) {
                return (existing, false)
            }
            state.sequence += 1
            let message = Message(
                id: "dev-\(state.sequence)-\(UUID().uuidString.lowercased())",
                idempotencyKey: idempotencyKey,
                receivedAt: receivedAt,
                mail: mail
            )
            state.messages.append(message)
            if state.messages.count > self.capacity {
                state.messages.removeFirst(state.messages.count - self.capacity)
            }
            return (message, true)
        }
        if isNew {
            self.logger.info(
                "development mailbox received mail",
                metadata: [
                    "mail.id": "\(message.id)",
                    "mail.to": "\(mail.to.joined(separator: ", "))",
                    "mail.subject": "\(mail.subject)",
                    "mail.link": "\(Self.firstLink(in: mail.text) ?? "none")",
                ]
            )
        }
        return SentMail(providerId: message.id)
    }

    /// The stored mails, newest first.
    public func messages() -> [Message] {
        self.state.withLock { Array($0.messages.reversed()) }
    }

    /// The newest stored mail sent to `address` (case-insensitive), if any.
    public func latest(to address: String) -> Message? {
        let wanted = address.lowercased()
        return self.state.withLock { state in
            state.messages.last { $0.mail.to.contains { $0.lowercased() == wanted } }
        }
    }

    /// Empties the mailbox.
    public func removeAll() {
        self.state.withLock { $0.messages.removeAll() }
    }

    /// The first `http://` or `https://` link in a text.
    public static func firstLink(in text: String) -> String? {
        HTML.links(in: text).first.map { String(text[$0]) }
    }
}
