import Foundation
import Testing

@testable import Mail

@Suite("DevelopmentMailbox")
struct DevelopmentMailboxTests {
    func mail(_ n: Int, to: String = "ada@example.test") -> OutgoingMail {
        OutgoingMail(
            from: "no-reply@example.test",
            to: [to],
            subject: "Mail \(n)",
            html: "<p>Body \(n)</p>",
            text: "Open https://chat.example.test/verify?token=t\(n). Thanks, or http://second.example.test"
        )
    }

    @Test func storesNewestFirstAndCapsItsSize() async throws {
        let mailbox = DevelopmentMailbox(capacity: 3, logger: LogRecorder().logger())
        for n in 1...5 {
            _ = try await mailbox.send(self.mail(n), idempotencyKey: "key-\(n)")
        }
        #expect(mailbox.messages().map(\.mail.subject) == ["Mail 5", "Mail 4", "Mail 3"])
        #expect(mailbox.capacity == 3)
        mailbox.removeAll()
        #expect(mailbox.messages().isEmpty)
    }

    @Test func returnsSyntheticIdsAndHonoursIdempotencyKeys() async throws {
        let mailbox = DevelopmentMailbox(logger: LogRecorder().logger())
        let first = try await mailbox.send(self.mail(1), idempotencyKey: "same")
        let again = try await mailbox.send(self.mail(1), idempotencyKey: "same")
        let other = try await mailbox.send(self.mail(2), idempotencyKey: "other")
        #expect(first == again)
        #expect(first != other)
        #expect(first.providerId.hasPrefix("dev-"))
        #expect(mailbox.messages().count == 2)
        #expect(mailbox.messages().first?.id == other.providerId)
    }

    @Test func logsSubjectRecipientAndFirstLinkAtInfo() async throws {
        let recorder = LogRecorder()
        let mailbox = DevelopmentMailbox(logger: recorder.logger())
        _ = try await mailbox.send(self.mail(7), idempotencyKey: "k")
        let entries = recorder.entries.filter { $0.level == .info }
        try #require(entries.count == 1)
        let entry = entries[0]
        #expect(entry.metadata["mail.subject"] == "Mail 7")
        #expect(entry.metadata["mail.to"] == "ada@example.test")
        #expect(entry.metadata["mail.link"] == "https://chat.example.test/verify?token=t7")
        #expect(!entry.rendered.contains("Body 7"))
    }

    @Test func findsTheLatestMailToAnAddress() async throws {
        let mailbox = DevelopmentMailbox(logger: LogRecorder().logger())
        _ = try await mailbox.send(self.mail(1, to: "Ada@Example.test"), idempotencyKey: "1")
        _ = try await mailbox.send(self.mail(2, to: "bob@example.test"), idempotencyKey: "2")
        _ = try await mailbox.send(self.mail(3, to: "ada@example.test"), idempotencyKey: "3")
        #expect(mailbox.latest(to: "ADA@example.test")?.mail.subject == "Mail 3")
        #expect(mailbox.latest(to: "nobody@example.test") == nil)
    }

    @Test func isSafeUnderConcurrentSends() async throws {
        let mailbox = DevelopmentMailbox(capacity: 50, logger: LogRecorder().logger())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<200 {
                group.addTask { _ = try await mailbox.send(self.mail(n), idempotencyKey: "k\(n)") }
            }
            try await group.waitForAll()
        }
        let messages = mailbox.messages()
        #expect(messages.count == 50)
        #expect(Set(messages.map(\.id)).count == 50)
    }

    @Test func pageEscapesEverythingAndLinksTheTextPart() async throws {
        let mailbox = DevelopmentMailbox(logger: LogRecorder().logger())
        let hostile = OutgoingMail(
            from: "x@example.test",
            to: ["<b>victim</b>@example.test"],
            subject: "<script>alert(1)</script>",
            html: "<script>alert(2)</script><a href=\"https://a.test/?a=1&b=2\">go</a>",
            text: "Go to https://a.test/?a=1&b=2\" onmouseover=\"x <img src=x>"
        )
        _ = try await mailbox.send(hostile, idempotencyKey: "h")
        let page = MailboxPage.render(mailbox.messages())
        #expect(!page.contains("<script>"))
        #expect(!page.contains("<img"))
        #expect(!page.contains("<b>victim"))
        #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(page.contains(#"<a href="https://a.test/?a=1&amp;b=2" rel="noopener noreferrer">https://a.test/?a=1&amp;b=2</a>"#))
        #expect(page.contains("&quot; onmouseover=&quot;x &lt;img src=x&gt;"))
        #expect(page.contains("<iframe sandbox "))
        #expect(page.contains("srcdoc=\"&lt;script&gt;alert(2)&lt;/script&gt;"))
        #expect(MailboxPage.render([]).contains("No mail yet."))
    }

    @Test func findsLinks() {
        let text = "See https://a.test/x, and (http://b.test/y). Not ftp://c.test or https:// alone."
        #expect(HTML.links(in: text).map { String(text[$0]) } == ["https://a.test/x", "http://b.test/y"])
        #expect(DevelopmentMailbox.firstLink(in: "no links here") == nil)
        #expect(HTML.linkify("a < b") == "a &lt; b")
    }
}
