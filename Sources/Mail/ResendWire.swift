/// Resend's wire shapes (POST /emails), kept apart from ``OutgoingMail``.
enum ResendWire {
    struct EmailRequest: Encodable {
        struct Tag: Encodable {
            var name: String
            var value: String
        }

        var from: String
        var to: [String]
        var subject: String
        var html: String
        var text: String
        var replyTo: String?
        var tags: [Tag]?

        enum CodingKeys: String, CodingKey {
            case from, to, subject, html, text, tags
            case replyTo = "reply_to"
        }

        init(_ mail: OutgoingMail) {
            self.from = mail.from
            self.to = mail.to
            self.subject = mail.subject
            self.html = mail.html
            self.text = mail.text
            self.replyTo = mail.replyTo
            // Sorted, so the same mail always encodes to the same bytes.
            self.tags = mail.tags.map { tags in
                tags.sorted { $0.key < $1.key }.map { Tag(name: $0.key, value: $0.value) }
            }
        }
    }

    /// `200 {"id": "..."}`.
    struct EmailResponse: Decodable {
        var id: String
    }

    /// `{"statusCode": 422, "name": "validation_error", "message": "..."}`.
    struct ErrorResponse: Decodable {
        var statusCode: Int?
        var name: String?
        var message: String?
    }

    static let concurrentIdempotentRequests = "concurrent_idempotent_requests"
}
