import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// The requests sign-in makes to providers: each within a deadline over the whole exchange
/// (head and body), with a cap on the body, and a status check; every failure is
/// ``OAuthFailure/providerError`` (as the mail sender's exchange, `ResendMailSender`).
struct ProviderHTTP: Sendable {
    let client: HTTPClient
    let timeout: Duration
    let maxBytes: Int
    let logger: Logger

    struct Reply: Sendable {
        let status: Int
        let body: Data
    }

    /// GETs `url` and decodes a JSON object or array from a 2xx answer.
    func getJSON(_ url: String, headers: [(String, String)] = []) async throws(OAuthFailure) -> Any {
        let reply = try await send(url, method: .GET, headers: headers, body: nil)
        return try json(reply, url: url)
    }

    /// The raw body of a 2xx answer to GET `url`.
    func getData(_ url: String) async throws(OAuthFailure) -> Data {
        let reply = try await send(url, method: .GET, headers: [], body: nil)
        guard (200..<300).contains(reply.status) else { throw .provider("GET \(Self.redacted(url)) answered \(reply.status)") }
        return reply.body
    }

    /// POSTs an `application/x-www-form-urlencoded` form (RFC 6749 §4.1.3) and returns the
    /// status and JSON object of the answer (token errors come as 400 with a JSON body).
    func postForm(_ url: String, form: [(String, String)], headers: [(String, String)] = []) async throws(OAuthFailure) -> (status: Int, object: [String: Any]) {
        let body = form.map { "\(Self.formEncode($0.0))=\(Self.formEncode($0.1))" }.joined(separator: "&")
        let reply = try await send(
            url, method: .POST, headers: headers + [("Content-Type", "application/x-www-form-urlencoded")], body: Data(body.utf8)
        )
        guard let object = (try? JSONSerialization.jsonObject(with: reply.body)) as? [String: Any] else {
            throw .provider("POST \(Self.redacted(url)) answered \(reply.status) without a JSON object")
        }
        return (reply.status, object)
    }

    private func json(_ reply: Reply, url: String) throws(OAuthFailure) -> Any {
        guard (200..<300).contains(reply.status) else { throw .provider("GET \(Self.redacted(url)) answered \(reply.status)") }
        guard let value = try? JSONSerialization.jsonObject(with: reply.body) else {
            throw .provider("GET \(Self.redacted(url)) answered with a body that is not JSON")
        }
        return value
    }

    private func send(_ url: String, method: HTTPMethod, headers: [(String, String)], body: Data?) async throws(OAuthFailure) -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "switchboard")
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let prepared = request
        let client = self.client, timeout = self.timeout, maxBytes = self.maxBytes, logger = self.logger
        do {
            return try await withThrowingTaskGroup(of: Reply?.self) { group in
                group.addTask {
                    let nanos = Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
                    let response = try await client.execute(prepared, deadline: .now() + .nanoseconds(nanos), logger: logger)
                    let bytes = try await response.body.collect(upTo: maxBytes)
                    return Reply(status: Int(response.status.code), body: Data(buffer: bytes))
                }
                group.addTask {
                    // AsyncHTTPClient's deadline stops at the head; this one covers the body.
                    try await Task.sleep(for: timeout + .milliseconds(250))
                    return nil
                }
                defer { group.cancelAll() }
                guard let reply = try await group.next() ?? nil else { throw HTTPClientError.deadlineExceeded }
                return reply
            }
        } catch {
            throw .provider("\(method.rawValue) \(Self.redacted(url)) failed: \(String(describing: error).prefix(200))")
        }
    }

    /// `url` without its query (which may carry a code or token) for logs.
    static func redacted(_ url: String) -> String {
        String(url.split(separator: "?", maxSplits: 1).first ?? "")
    }

    /// Percent-encodes for a form or query value: everything but RFC 3986's unreserved set.
    static func formEncode(_ value: String) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}
