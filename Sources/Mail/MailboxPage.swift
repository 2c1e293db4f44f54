import Foundation

/// Renders the development mailbox as one HTML page (the Server serves it at
/// `/dev/mailbox` in development only).
///
/// Everything from a mail is escaped. The text part is shown with its links
/// clickable; the HTML part is shown in a sandboxed frame (no scripts, no
/// forms, no navigation of the page).
public enum MailboxPage {
    public static func render(_ messages: [DevelopmentMailbox.Message], title: String = "Development mailbox") -> String {
        var page = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="robots" content="noindex">
            <title>\(HTML.escape(title))</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }
            article { border: 1px solid #ccc; border-radius: 6px; margin: 1rem 0; padding: 1rem; }
            dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0 0 1rem; }
            dt { font-weight: 600; }
            pre { white-space: pre-wrap; word-break: break-word; background: #f6f6f6; padding: .75rem; }
            iframe { width: 100%; height: 24rem; border: 1px solid #ddd; }
            </style>
            </head>
            <body>
            <h1>\(HTML.escape(title))</h1>

            """
        if messages.isEmpty {
            page += "<p>No mail yet.</p>\n"
        }
        for message in messages {
            let mail = message.mail
            page += """
                <article id="\(HTML.escape(message.id))">
                <h2>\(HTML.escape(mail.subject))</h2>
                <dl>
                <dt>To</dt><dd>\(HTML.escape(mail.to.joined(separator: ", ")))</dd>
                <dt>From</dt><dd>\(HTML.escape(mail.from))</dd>
                <dt>Received</dt><dd>\(HTML.escape(Self.timestamp(message.receivedAt)))</dd>
                <dt>Id</dt><dd>\(HTML.escape(message.id))</dd>
                </dl>
                <pre>\(HTML.linkify(mail.text))</pre>
                <details><summary>HTML part</summary>
                <iframe sandbox title="HTML part" srcdoc="\(HTML.escape(mail.html))"></iframe>
                </details>
                </article>

                """
        }
        page += "</body>\n</html>\n"
        return page
    }

    private static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
