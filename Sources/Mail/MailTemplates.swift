import Foundation

/// A rendered mail: subject, HTML part and text part.
public struct MailContent: Sendable, Hashable, Codable {
    public var subject: String
    public var html: String
    public var text: String

    public init(subject: String, html: String, text: String) {
        self.subject = subject
        self.html = html
        self.text = text
    }
}

/// The account mails. Each has an HTML and a text part, names the product and
/// the action, and, when it carries a one-time link, when that link expires.
/// Everything interpolated into the HTML part is escaped.
///
/// Links are passed in, built by the caller from the configured public URL
/// (never from a request's Host header).
public struct MailTemplates: Sendable {
    public var productName: String

    /// Display names longer than this are cut (they are user input, and the
    /// verification mail goes to an address nobody has proven yet).
    public static let maxDisplayNameLength = 64

    public init(productName: String = "Switchboard") {
        self.productName = productName
    }

    /// "Confirm your email address" with a one-time link.
    public func verification(displayName: String?, link: URL, expiresIn: Duration) -> MailContent {
        let product = self.productName
        let expiry = Self.expirySentence(expiresIn)
        return self.render(
            subject: "Confirm your email address for \(product)",
            displayName: displayName,
            paragraphs: [
                .text("Please confirm your email address to finish setting up your \(product) account."),
                .button(label: "Confirm email address", link: link),
                .text(expiry),
                .text("If you did not create a \(product) account, you can ignore this email."),
            ]
        )
    }

    /// "Reset your password" with a one-time link.
    public func passwordReset(displayName: String?, link: URL, expiresIn: Duration) -> MailContent {
        let product = self.productName
        return self.render(
            subject: "Reset your \(product) password",
            displayName: displayName,
            paragraphs: [
                .text("Someone asked to reset the password of your \(product) account. If it was you, choose a new password here:"),
                .button(label: "Reset password", link: link),
                .text("\(Self.expirySentence(expiresIn)) It works only once."),
                .text("If you did not ask for this, you can ignore this email: your password stays unchanged."),
            ]
        )
    }

    /// "Your password was changed": a notice, with a link to the page where a
    /// new reset can be requested (not a one-time link).
    public func passwordChanged(displayName: String?, changedAt: Date, resetPageLink: URL) -> MailContent {
        let product = self.productName
        return self.render(
            subject: "Your \(product) password was changed",
            displayName: displayName,
            paragraphs: [
                .text("The password of your \(product) account was changed on \(Self.timestamp(changedAt))."),
                .text("If you did this, there is nothing more to do."),
                .text("If you did not, someone else may know your password. Reset it now and you will be signed out everywhere:"),
                .button(label: "Reset password", link: resetPageLink),
            ]
        )
    }

    /// "Your account was deleted": the last mail to an address, sent when its owner deleted
    /// the account (nothing to click: the account can no longer be signed in to).
    public func accountDeleted(displayName: String?, deletedAt: Date) -> MailContent {
        let product = self.productName
        return self.render(
            subject: "Your \(product) account was deleted",
            displayName: displayName,
            paragraphs: [
                .text("Your \(product) account was deleted on \(Self.timestamp(deletedAt)), as you asked, and every session of it was signed out."),
                .text("Your messages stay in their rooms under the name \"Deleted user\"; your email address, username and name were removed."),
                .text("If you did not do this, reply to this mail."),
            ]
        )
    }

    /// "Someone tried to register with your address": sent instead of a
    /// second verification mail, so registration does not reveal which
    /// addresses have accounts.
    public func registrationAttempt(displayName: String?, signInLink: URL, resetPageLink: URL) -> MailContent {
        let product = self.productName
        return self.render(
            subject: "Someone tried to create a \(product) account with your email address",
            displayName: displayName,
            paragraphs: [
                .text("Someone tried to create a new \(product) account with this email address, which already has an account."),
                .text("If it was you, sign in to your existing account:"),
                .button(label: "Sign in", link: signInLink),
                .text("Forgot your password? Request a reset:"),
                .button(label: "Reset password", link: resetPageLink),
                .text("If it was not you, you can ignore this email: no account was created and yours is unchanged."),
            ]
        )
    }

    // MARK: - Rendering

    private enum Paragraph {
        case text(String)
        case button(label: String, link: URL)
    }

    private func render(subject: String, displayName: String?, paragraphs: [Paragraph]) -> MailContent {
        let greeting = Self.cleanDisplayName(displayName).map { "Hi \($0)," } ?? "Hi,"
        let product = self.productName

        var text = greeting + "\n\n"
        for paragraph in paragraphs {
            switch paragraph {
            case .text(let sentence): text += sentence + "\n\n"
            case .button(_, let link): text += link.absoluteString + "\n\n"
            }
        }
        text += "— \(product)\n"

        var body = "<p>\(HTML.escape(greeting))</p>\n"
        for paragraph in paragraphs {
            switch paragraph {
            case .text(let sentence):
                body += "<p>\(HTML.escape(sentence))</p>\n"
            case .button(let label, let link):
                let href = HTML.escape(link.absoluteString)
                body += """
                    <p><a href="\(href)" style="display:inline-block;padding:10px 18px;background:#2f5bd3;\
                    color:#ffffff;text-decoration:none;border-radius:6px;font-weight:600">\(HTML.escape(label))</a></p>
                    <p style="font-size:13px;color:#555">Or open this link: <a href="\(href)">\(href)</a></p>

                    """
            }
        }
        let html = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(HTML.escape(subject))</title>
            </head>
            <body style="font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;font-size:15px;\
            line-height:1.5;color:#1a1a1a;max-width:560px;margin:0 auto;padding:24px">
            \(body)<p style="color:#555">— \(HTML.escape(product))</p>
            </body>
            </html>

            """
        return MailContent(subject: Self.singleLine(subject), html: html, text: text)
    }

    /// "This link expires in 24 hours."
    static func expirySentence(_ duration: Duration) -> String {
        "This link expires in \(Self.humanDuration(duration))."
    }

    /// Whole days, hours or minutes (rounded up to a minute).
    static func humanDuration(_ duration: Duration) -> String {
        let seconds = max(60, duration.components.seconds + (duration.components.attoseconds > 0 ? 1 : 0))
        let minutes = (seconds + 59) / 60
        func plural(_ value: Int64, _ unit: String) -> String { value == 1 ? "1 \(unit)" : "\(value) \(unit)s" }
        if minutes % 60 != 0 { return plural(minutes, "minute") }
        let hours = minutes / 60
        if hours % 24 != 0 || hours == 24 { return plural(hours, "hour") }
        return plural(hours / 24, "day")
    }

    private static func cleanDisplayName(_ name: String?) -> String? {
        guard let name else { return nil }
        let flat = Self.singleLine(name).trimmingCharacters(in: .whitespaces)
        guard !flat.isEmpty else { return nil }
        return flat.count > Self.maxDisplayNameLength ? String(flat.prefix(Self.maxDisplayNameLength)) + "…" : flat
    }

    /// Control characters (newlines included) become spaces.
    private static func singleLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }))
    }

    private static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        func two(_ value: Int?) -> String { value.map { $0 < 10 ? "0\($0)" : "\($0)" } ?? "00" }
        return "\(c.year ?? 1970)-\(two(c.month))-\(two(c.day)) \(two(c.hour)):\(two(c.minute)) UTC"
    }
}
