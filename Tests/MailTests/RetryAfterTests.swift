import Foundation
import NIOCore
import Testing

@testable import Mail

@Suite("Retry-After and response classification")
struct RetryAfterTests {
    /// Sun, 06 Nov 1994 08:49:37 GMT.
    let now = Date(timeIntervalSince1970: 784_111_777)

    @Test func parsesSeconds() {
        #expect(RetryAfter.parse("0", now: self.now) == .zero)
        #expect(RetryAfter.parse("120", now: self.now) == .seconds(120))
        #expect(RetryAfter.parse(" 5 ", now: self.now) == .seconds(5))
        #expect(RetryAfter.parse("99999999999999999999999", now: self.now) == RetryAfter.maximum)
        #expect(RetryAfter.parse("-1", now: self.now) == nil)
        #expect(RetryAfter.parse("1.5", now: self.now) == nil)
        #expect(RetryAfter.parse("", now: self.now) == nil)
    }

    @Test func parsesHTTPDates() {
        #expect(RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", now: self.now) == .zero)
        #expect(RetryAfter.parse("Sun, 06 Nov 1994 08:50:07 GMT", now: self.now) == .seconds(30))
        #expect(RetryAfter.parse("Mon, 07 Nov 1994 08:49:36 GMT", now: self.now) == .seconds(86_399))
        #expect(RetryAfter.parse("Sat, 05 Nov 1994 08:49:37 GMT", now: self.now) == .zero)
        #expect(RetryAfter.parse("Tue, 08 Nov 1994 08:49:37 GMT", now: self.now) == RetryAfter.maximum)
        #expect(RetryAfter.parseIMFFixdate("Thu, 01 Jan 1970 00:00:00 GMT") == Date(timeIntervalSince1970: 0))
        #expect(RetryAfter.parseIMFFixdate("Thu, 29 Feb 2024 12:00:00 GMT") == Date(timeIntervalSince1970: 1_709_208_000))
    }

    @Test func rejectsMalformedDates() {
        for value in [
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "soon",
        ] {
            #expect(RetryAfter.parse(value, now: self.now) == nil, "\(value)")
        }
    }

    func classify(_ status: Int, retryAfter: String? = nil, body: String) -> Result<SentMail, MailError> {
        ResendMailSender.classify(
            status: status,
            retryAfter: retryAfter,
            body: ByteBuffer(string: body),
            now: self.now
        )
    }

    @Test func classifiesStatuses() throws {
        #expect(try self.classify(200, body: #"{"id":"abc"}"#).get() == SentMail(providerId: "abc"))
        #expect(try self.classify(202, body: #"{"id":"abc","extra":1}"#).get() == SentMail(providerId: "abc"))

        func error(_ result: Result<SentMail, MailError>) -> MailError? {
            if case .failure(let error) = result { return error }
            return nil
        }
        #expect(error(self.classify(200, body: #"{"id":""}"#))?.code == .invalidResponse)
        #expect(
            error(self.classify(503, retryAfter: "Sun, 06 Nov 1994 08:50:37 GMT", body: ""))?.disposition
                == .retry(after: .seconds(60))
        )
        #expect(error(self.classify(500, body: "not json"))?.disposition == .retry(after: nil))
        #expect(error(self.classify(429, retryAfter: "garbage", body: "{}"))?.disposition == .retry(after: nil))
        #expect(error(self.classify(404, body: #"{"name":"not_found","message":"Not found"}"#))?.disposition == .permanent)
        #expect(error(self.classify(403, body: "<html>"))?.providerErrorName == nil)
        #expect(error(self.classify(302, body: ""))?.code == .unexpectedStatus)
        #expect(error(self.classify(302, body: ""))?.disposition.isRetryable == true)
    }

    @Test func dispositionOfAnyError() {
        struct Other: Error {}
        #expect(MailError.disposition(of: Other()) == .retry(after: nil))
        #expect(MailError.disposition(of: MailError(code: .rejected, disposition: .permanent)) == .permanent)
    }

    @Test func errorDescriptionIsBoundedAndSingleLine() {
        let error = MailError(
            code: .rejected,
            disposition: .permanent,
            httpStatus: 422,
            providerErrorName: "validation_error",
            providerMessage: "line one\nline two " + String(repeating: "x", count: 2_000)
        )
        let description = String(describing: error)
        #expect(!description.contains("\n"))
        #expect(description.count < 800)
        #expect(description.contains("code: rejected"))
        #expect(description.contains("status: 422"))
        #expect(description.contains("permanent"))
    }
}
