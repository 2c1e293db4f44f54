import Testing

@testable import Relay

@Suite struct EngineSessionStateMachineTests {
    typealias Machine = EngineSessionStateMachine

    @Test func heartbeatPingsThenWaitsForPong() {
        var m = Machine(transport: .websocket)
        do { let r = m.opened(); #expect(r == [.schedulePing]) }
        do { let r = m.pingTimerFired(); #expect(r == [.send(.ping), .schedulePingTimeout]) }
        // a second ping timer while awaiting the pong does nothing
        do { let r = m.pingTimerFired(); #expect(r == []) }
        do { let r = m.received(.pong); #expect(r == [.schedulePing]) }
        // an unsolicited pong is ignored
        do { let r = m.received(.pong); #expect(r == []) }
        do { let r = m.pingTimerFired(); #expect(r == [.send(.ping), .schedulePingTimeout]) }
    }

    @Test func closesOnPingTimeout() {
        var m = Machine(transport: .polling)
        _ = m.pingTimerFired()
        do { let r = m.pingTimeoutFired(); #expect(r == [.close(.pingTimeout)]) }
        #expect(m.state == .closed(.pingTimeout))
        do { let r = m.received(.message("late")); #expect(r == []) }
    }

    @Test func pingTimeoutIgnoredAfterPong() {
        var m = Machine(transport: .polling)
        _ = m.pingTimerFired()
        _ = m.received(.pong)
        do { let r = m.pingTimeoutFired(); #expect(r == []) }
        #expect(!m.isClosed)
    }

    @Test func deliversMessagesAndHandlesClose() {
        var m = Machine(transport: .websocket)
        do { let r = m.received(.message("hi")); #expect(r == [.deliver(.text("hi"))]) }
        do { let r = m.received(.noop); #expect(r == []) }
        do { let r = m.received(.close); #expect(r == [.close(.transportClose)]) }
        do { let r = m.close(.forcedClose); #expect(r == []) }
    }

    @Test func unexpectedPacketsAreAParseError() {
        var m = Machine(transport: .websocket)
        do { let r = m.received(EnginePacket(.open)); #expect(r == [.close(.parseError)]) }
        var m2 = Machine(transport: .polling)
        do { let r = m2.receivedInvalid(); #expect(r == [.close(.parseError)]) }
    }

    @Test func upgradeProbeFlow() {
        var m = Machine(transport: .polling)
        do { let r = m.webSocketProbeOpened(); #expect(r) }
        // a second WebSocket during the upgrade is refused
        do { let r = m.webSocketProbeOpened(); #expect(!r) }
        do { let r = m.receivedOnProbe(.probePing); #expect(r == [.sendOnProbe(.probePong), .releasePoll]) }
        #expect(m.upgrade == .probed)
        do { let r = m.receivedOnProbe(.upgrade); #expect(r == [.releasePoll, .switchToWebSocket]) }
        #expect(m.transport == .websocket)
        // and after it
        do { let r = m.webSocketProbeOpened(); #expect(!r) }
    }

    @Test func upgradeAbortedByUnexpectedPacketOrClose() {
        var m = Machine(transport: .polling)
        do { let r = m.webSocketProbeOpened(); #expect(r) }
        do { let r = m.receivedOnProbe(.message("x")); #expect(r == []) }
        #expect(m.upgrade == .none)
        #expect(m.transport == .polling)
        do { let r = m.webSocketProbeOpened(); #expect(r) }
        _ = m.receivedOnProbe(.probePing)
        m.probeClosed()
        #expect(m.upgrade == .none)
        do { let r = m.webSocketProbeOpened(); #expect(r) }
    }

    @Test func heartbeatContinuesThroughUpgrade() {
        var m = Machine(transport: .polling)
        _ = m.pingTimerFired()
        do { let r = m.webSocketProbeOpened(); #expect(r) }
        _ = m.receivedOnProbe(.probePing)
        _ = m.receivedOnProbe(.upgrade)
        do { let r = m.received(.pong); #expect(r == [.schedulePing]) }
    }

    @Test func websocketSessionCannotBeProbed() {
        var m = Machine(transport: .websocket)
        do { let r = m.webSocketProbeOpened(); #expect(!r) }
    }
}
