import Synchronization

/// What `/ready` reports besides the database: whether this process applied (or found applied)
/// every migration it knows, and whether it is draining (graceful shutdown has begun).
///
/// Set once, read by every `/ready` request: atomics, no lock. Thread-safe.
public final class Readiness: Sendable {
    private let migrated = Atomic<Bool>(false)
    private let draining = Atomic<Bool>(false)

    public init() {}

    /// Called once the migrations in `beforeServerStarts` succeeded.
    public func migrationsApplied() { migrated.store(true, ordering: .releasing) }

    /// Called when graceful shutdown begins (SIGTERM): `/ready` answers 503 from now on.
    public func beginDraining() { draining.store(true, ordering: .releasing) }

    public var areMigrationsCurrent: Bool { migrated.load(ordering: .acquiring) }
    public var isDraining: Bool { draining.load(ordering: .acquiring) }
}
