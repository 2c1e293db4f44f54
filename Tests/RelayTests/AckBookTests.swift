import Testing
@testable import Relay

@Suite("Ack bookkeeping (pure value)")
struct AckBookTests {
    @Test("ids count from 0 per socket, each ACK settles its own waiter once, unknown ids are ignored")
    func settlesOnce() {
        var book = AckBook<String>()
        #expect(book.register("a") == 0)
        #expect(book.register("b") == 1)
        #expect(book.register("c") == 2)
        #expect(book.settle(1) == "b")
        #expect(book.settle(1) == nil)      // a second ACK with the same id
        #expect(book.settle(7) == nil)      // an id never handed out
        #expect(book.count == 2)
        #expect(book.settle(0) == "a")
        #expect(book.settle(2) == "c")
        #expect(book.count == 0)
        #expect(book.register("d") == 3)    // ids are not reused after settling
    }

    @Test("closing returns every pending waiter once, in id order, and refuses new ones")
    func closeFailsTheRest() {
        var book = AckBook<Int>()
        for w in [10, 11, 12] { _ = book.register(w) }
        _ = book.settle(1)
        #expect(book.close() == [10, 12])
        #expect(book.close() == [])
        #expect(book.register(13) == nil)
        #expect(book.settle(0) == nil)      // a late ACK after the close
        #expect(book.isClosed)
    }

    @Test("update changes a pending waiter only")
    func update() {
        var book = AckBook<Int>()
        let id = book.register(1)!
        book.update(id) { $0 += 41 }
        book.update(99) { $0 = -1 }
        #expect(book.settle(id) == 42)
        book.update(id) { $0 = -1 }         // settled: nothing to change
        #expect(book.count == 0)
    }
}
