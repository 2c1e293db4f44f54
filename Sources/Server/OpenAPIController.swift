import Accounts
import Foundation
import Hummingbird

/// Serves docs/openapi.yaml at `GET /api/openapi.yaml`.
struct OpenAPIController<Context: RequestContext> {
    let specPath: String

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("openapi.yaml") { _, _ -> Response in
            guard let data = FileManager.default.contents(atPath: specPath) else { throw APIError.notFound }
            return Response(status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }
}
