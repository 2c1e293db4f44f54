import Foundation
import Testing

@testable import Mail

@Suite("MailTemplates")
struct MailTemplatesTests {
    let templates = MailTemplates()
    let hostile = #"<script>alert("x")</script> & 'Bob'"#
    let link = URL(string: "https://chat.example.test/verify?token=abc123&next=%2Frooms")!
    let resetPage = URL(string: "https://chat.example.test/forgot-password")!
    let signIn = URL(string: "https://chat.example.test/login")!

    /// Every mail, rendered for a hostile display name.
    var all: [(name: String, content: MailContent)] {
        [
            ("verification", self.templates.verification(displayName: self.hostile, link: self.link, expiresIn: .seconds(24 * 3600))),
            ("reset", self.templates.passwordReset(displayName: self.hostile, link: self.link, expiresIn: .seconds(3600))),
            (
                "changed",
                self.templates.passwordChanged(
                    displayName: self.hostile,
                    changedAt: Date(timeIntervalSince1970: 1_709_208_000),
                    resetPageLink: self.resetPage
                )
            ),
            ("attempt", self.templates.registrationAttempt(displayName: self.hostile, signInLink: self.signIn, resetPageLink: self.resetPage)),
        ]
    }

    @Test func escapesDisplayNamesInHTML() {
        for (name, content) in self.all {
            #expect(!content.html.contains("<script>"), "\(name)")
            #expect(content.html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Bob&#39;"), "\(name)")
            // The text part is plain text: the name as given.
            #expect(content.text.contains("Hi \(self.hostile),"), "\(name)")
            #expect(content.text.hasPrefix("Hi "), "\(name)")
        }
    }

    @Test func everyMailNamesTheProductInBothParts() {
        for (name, content) in self.all {
            #expect(content.subject.contains("Switchboard"), "\(name)")
            #expect(content.html.contains("Switchboard"), "\(name)")
            #expect(content.text.contains("Switchboard"), "\(name)")
        }
    }

    @Test func verificationHasLinkActionAndExpiry() {
        let content = self.templates.verification(displayName: "Ada", link: self.link, expiresIn: .seconds(24 * 3600))
        #expect(content.subject == "Confirm your email address for Switchboard")
        #expect(content.text.contains(self.link.absoluteString))
        #expect(content.text.contains("This link expires in 24 hours."))
        #expect(content.html.contains("This link expires in 24 hours."))
        #expect(content.html.contains(#"href="https://chat.example.test/verify?token=abc123&amp;next=%2Frooms""#))
        #expect(content.html.contains("Confirm email address"))
        #expect(content.text.hasPrefix("Hi Ada,\n"))
    }

    @Test func passwordResetHasLinkActionAndExpiry() {
        let content = self.templates.passwordReset(displayName: nil, link: self.link, expiresIn: .seconds(30 * 60))
        #expect(content.subject == "Reset your Switchboard password")
        #expect(content.text.hasPrefix("Hi,\n"))
        #expect(content.text.contains(self.link.absoluteString))
        #expect(content.text.contains("This link expires in 30 minutes."))
        #expect(content.html.contains("This link expires in 30 minutes."))
        #expect(content.html.contains("Reset password"))
    }

    @Test func noticesCarryTheirLinks() {
        let changed = self.templates.passwordChanged(
            displayName: "Ada",
            changedAt: Date(timeIntervalSince1970: 1_709_208_000),
            resetPageLink: self.resetPage
        )
        #expect(changed.subject == "Your Switchboard password was changed")
        #expect(changed.text.contains("2024-02-29 12:00 UTC"))
        #expect(changed.text.contains(self.resetPage.absoluteString))
        #expect(changed.html.contains(#"href="https://chat.example.test/forgot-password""#))

        let attempt = self.templates.registrationAttempt(displayName: nil, signInLink: self.signIn, resetPageLink: self.resetPage)
        #expect(attempt.subject.contains("tried to create"))
        #expect(attempt.text.contains(self.signIn.absoluteString))
        #expect(attempt.text.contains(self.resetPage.absoluteString))
        #expect(attempt.html.contains(#"href="https://chat.example.test/login""#))
    }

    @Test func productNameIsConfigurableAndEscaped() {
        let custom = MailTemplates(productName: "Chat <&> Co")
        let content = custom.verification(displayName: nil, link: self.link, expiresIn: .seconds(3600))
        #expect(content.subject == "Confirm your email address for Chat <&> Co")
        #expect(content.html.contains("Chat &lt;&amp;&gt; Co"))
        #expect(!content.html.contains("Chat <&> Co"))
        #expect(content.text.contains("This link expires in 1 hour."))
    }

    @Test func displayNamesAreFlattenedAndBounded() {
        let long = String(repeating: "n", count: 500)
        let content = self.templates.verification(displayName: "Eve\r\nBcc: x@y\n" + long, link: self.link, expiresIn: .seconds(60))
        let greeting = content.text.split(separator: "\n").first.map(String.init) ?? ""
        #expect(greeting.hasPrefix("Hi Eve  Bcc: x@y"))
        #expect(greeting.count < 80)
        #expect(self.templates.verification(displayName: "   ", link: self.link, expiresIn: .seconds(60)).text.hasPrefix("Hi,"))
    }

    @Test func humanDurations() {
        #expect(MailTemplates.humanDuration(.seconds(60)) == "1 minute")
        #expect(MailTemplates.humanDuration(.seconds(61)) == "2 minutes")
        #expect(MailTemplates.humanDuration(.seconds(5)) == "1 minute")
        #expect(MailTemplates.humanDuration(.seconds(3600)) == "1 hour")
        #expect(MailTemplates.humanDuration(.seconds(5400)) == "90 minutes")
        #expect(MailTemplates.humanDuration(.seconds(24 * 3600)) == "24 hours")
        #expect(MailTemplates.humanDuration(.seconds(48 * 3600)) == "2 days")
        #expect(MailTemplates.humanDuration(.seconds(36 * 3600)) == "36 hours")
    }

    @Test func outgoingMailFromContent() {
        let content = self.templates.passwordReset(displayName: "Ada", link: self.link, expiresIn: .seconds(3600))
        let mail = OutgoingMail(from: "no-reply@example.test", to: ["ada@example.test"], content: content)
        #expect(mail.subject == content.subject)
        #expect(mail.html == content.html)
        #expect(mail.text == content.text)
        // The outbox stores it as JSON.
        let decoded = try? JSONDecoder().decode(OutgoingMail.self, from: JSONEncoder().encode(mail))
        #expect(decoded == mail)
    }
}
