import Relay
import Synchronization
import Testing

/// `fetchSockets` and `serverSideEmit` with the in-memory adapter (one node): the cluster adapter
/// is tested with several real server processes (Tests/interop/test_cluster.py).
@Suite struct LiveFetchSocketsTests {
    struct Member: SocketDataSummarizing {
        var name: String
        var summary: JSONValue { ["name": .string(name)] }
    }

    @Test func fetchSocketsReturnsIdsRoomsAndDataSummaries() async throws {
        try await withLiveRelay(setUp: { relay in
            let ns = relay.namespace("/")
            ns.use { handshake in handshake.auth?["name"]?.stringValue.map { Member(name: $0) } }
            ns.onConnection { socket in
                socket.on("join") { args, ack in
                    await socket.join(args.compactMap(\.stringValue))
                    await ack?([true])
                }
            }
        }) { relay, client in
            let port = try #require(client.port)
            let (a, aid) = try await socketIOConnect(port: port, auth: #"{"name":"ann"}"#)
            let (_, bid) = try await socketIOConnect(port: port)
            a.send(#"421["join","room:1"]"#)
            #expect(await a.nextText() == "431[true]")

            let chat = relay.namespace("/")
            let inRoom = try await chat.to("room:1").fetchSockets(timeout: .seconds(1))
            #expect(inRoom == [SocketSummary(id: aid, rooms: [aid, "room:1"], data: ["name": "ann"], node: nil)])
            let all = try await chat.except("room:1").fetchSockets()
            #expect(all.map(\.id) == [bid])
            #expect(all.first?.data == nil)   // no data: nothing to summarize
            #expect(all.first?.rooms == [bid])
        }
    }

    @Test func serverSideEmitDoesNotReachThisNodesHandlers() async throws {
        let calls = Mutex<[[JSONValue]]>([])
        try await withLiveRelay(setUp: { relay in
            relay.namespace("/").onServerSideEmit("ping") { args in calls.withLock { $0.append(args) } }
        }) { relay, _ in
            let chat = relay.namespace("/")
            await chat.serverSideEmit("ping", arguments: [1])
            #expect(calls.withLock { $0 }.isEmpty)
            // what an adapter calls when another node's event arrives
            await chat.receiveServerSideEmit("ping", arguments: [2, "x"])
            await chat.receiveServerSideEmit("other", arguments: [3])
            #expect(calls.withLock { $0 } == [[2, "x"]])
        }
    }
}
