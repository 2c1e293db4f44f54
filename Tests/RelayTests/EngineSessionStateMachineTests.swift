import Testing

@testable import Relay

@Suite struct EngineSessionStateMachineTests {
    typealias Machine = EngineSessionStateMachine

    @Test func heartbeatPingsThenWaitsForPong() {
        var m = Machine(transport: .websocket)
        do { let r = m.opened(); #expect(r == .schedulePing) }
        do { let r = m.pingTimerFired(); #expect(r == .sendPing) }
        // a second ping timer while awaiting the pong does nothing
        do { let r = m.pingTimerFired(); #expect(r == .none) }
        do { let r = m.received(.pong); #expect(r == .schedulePing) }
        // an unsolicited pong is ignored
        do { let r = m.received(.pong); #expect(r == .none) }
        do { let r = m.pingTimerFired(); #expect(r == .sendPing) }
    }

    @Test func closesOnPingTimeout() {
        var m = Machine(transport: .polling)
        _ = m.pingTimerFired()
        do { let r = m.pingTimeoutFired(); #expect(r?.reason == .pingTimeout) }
        #expect(m.state == .closed(.pingTimeout))
        do { let r = m.received(.message("late")); #expect(r == .none) }
    }

    @Test func pingTimeoutIgnoredAfterPong() {
        var m = Machine(transport: .polling)
        _ = m.pingTimerFired()
        _ = m.received(.pong)
        do { let r = m.pingTimeoutFired(); #expect(r == nil) }
        #expect(!m.isClosed)
    }

    @Test func deliversMessagesAndHandlesClose() {
        var m = Machine(transport: .websocket)
        do { let r = m.received(.message("hi")); #expect(r == .deliver(.text("hi"))) }
        do { let r = m.received(.noop); #expect(r == .none) }
        do { let r = m.received(.close); #expect(r == .close(Machine.CloseAction(.transportClose))) }
        do { let r = m.close(.forcedClose); #expect(r == nil) }
    }

    @Test func unexpectedPacketsAreAParseError() {
        var m = Machine(transport: .websocket)
        do { let r = m.received(EnginePacket(.open)); #expect(r == .close(Machine.CloseAction(.parseError))) }
        var m2 = Machine(transport: .polling)
        do { let r = m2.receivedInvalid(); #expect(r?.reason == .parseError) }
    }

    @Test func upgradeProbeFlow() {
        var m = Machine(transport: .polling)
        do { let r = m.webSocketProbeOpened(); #expect(r) }
        // a second WebSocket during the upgrade is refused
        do { let r = m.webSocketProbeOpened(); #expect(!r) }
        do { let r = m.receivedOnProbe(.probePing); #expect(r == .reply(.probePong, releasesPoll: true)) }
        #expect(m.upgrade == .probed)
        do { let r = m.receivedOnProbe(.upgrade); #expect(r == .upgrade) }
        #expect(m.transport == .websocket)
        // and after it
        do { let r = m.webSocketProbeOpened(); #expect(!r) }
    }

    @Test func upgradeAbortedByUnexpectedPacketOrClose() {
        var m = Machine(transport: .polling)
        do { let r = m.webSocketProbeOpened(); #expect(r) }
        do { let r = m.receivedOnProbe(.message("x")); #expect(r == .abort) }
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
        do { let r = m.received(.pong); #expect(r == .schedulePing) }
    }

    /// The close policy: a server's own close lets queued packets out first and ends a held GET
    /// with a close packet; the client's close drops them, ends a held GET with a noop and owes
    /// a GET still on its way a noop; a failure or timeout drops them and sends close.
    @Test func closePolicyDependsOnWhoClosed() {
        func closing(_ reason: EngineCloseReason) -> Machine.CloseAction? {
            var m = Machine(transport: .polling)
            return m.close(reason)
        }
        for reason in [EngineCloseReason.forcedClose, .serverShutdown] {
            #expect(closing(reason)?.reason == reason)
            #expect(closing(reason)?.flushesQueue == true)
            #expect(closing(reason)?.heldPollAnswer == .close)
            #expect(closing(reason)?.owesLatePollNoop == false)
        }
        var m = Machine(transport: .polling)
        let r = m.received(.close)
        guard case .close(let close) = r else {
            Issue.record("a close packet closes the session")
            return
        }
        #expect(close.reason == .transportClose && !close.flushesQueue && close.heldPollAnswer == .noop && close.owesLatePollNoop)
        for reason in [EngineCloseReason.transportError, .pingTimeout, .parseError, .slowConsumer] {
            #expect(closing(reason)?.flushesQueue == false)
            #expect(closing(reason)?.heldPollAnswer == .close)
            #expect(closing(reason)?.owesLatePollNoop == false)
        }
    }

    @Test func websocketSessionCannotBeProbed() {
        var m = Machine(transport: .websocket)
        do { let r = m.webSocketProbeOpened(); #expect(!r) }
    }
}
