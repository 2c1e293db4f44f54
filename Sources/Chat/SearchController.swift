import Accounts
import Foundation
import Hummingbird
import Models

/// `GET /api/search/messages`: full-text search over the caller's rooms (``MessageSearch``).
public struct SearchController<Context: IdentityRequestContext>: Sendable {
    let search: MessageSearch
    let tokens: AccessTokenService

    public init(search: MessageSearch, tokens: AccessTokenService) {
        self.search = search
        self.tokens = tokens
    }

    public func addRoutes(to group: RouterGroup<Context>) {
        group.group().add(middleware: BearerAuthenticator<Context>(tokens: tokens))
            .get("search/messages", use: searchMessages)
    }

    /// `q` (required; ≤ 256 characters, ≤ 16 words), `roomId` (optional), `limit` (1–50,
    /// default 20), `cursor` (a previous page's `nextCursor`).
    @Sendable func searchMessages(_ request: Request, context: Context) async throws -> MessageSearch.Page {
        let identity = try context.requireIdentity()
        let query = request.uri.queryParameters
        let q = query.get("q") ?? ""
        // The length first: a 10,000-character query is refused before anything else is read.
        _ = try MessageSearch.terms(in: q)
        var problems: [String: String] = [:]
        let limit = RoomsController<Context>.pageSize(query, max: MessageSearch.maxPageSize, default: 20, problems: &problems)
        var roomID: Int64?
        if let raw = query.get("roomId") {
            if let value = Int64(raw), value > 0 { roomID = value } else { problems["roomId"] = "must be a room id" }
        }
        if q.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { problems["q"] = "is required" }
        if !problems.isEmpty { throw ServiceError.validation(problems) }
        return try await search.search(userID: identity.userID, query: q, roomID: roomID, limit: limit, cursor: query.get("cursor"))
    }
}

extension MessageSearch.Page: ResponseEncodable {}
