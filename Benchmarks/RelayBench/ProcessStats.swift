#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Readings of a process from /proc (Linux).
enum ProcessStats {
    /// Resident set size in KiB (VmRSS of /proc/<pid>/status).
    static func rssKiB(pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }

    /// utime + stime of /proc/<pid>/stat, in seconds.
    static func cpuSeconds(pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // fields after the command name: state is field 3; utime 14, stime 15
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        return (utime + stime) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static var ownPid: Int32 { getpid() }
}

/// Monotonic nanoseconds (CLOCK_MONOTONIC): one clock for send stamps and receipt.
@inline(__always) func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// CPU use of a process between two points in time.
struct CPUWindow {
    let pid: Int32
    let startCPU: Double
    let startWall: UInt64

    init?(pid: Int32) {
        guard let cpu = ProcessStats.cpuSeconds(pid: pid) else { return nil }
        self.pid = pid
        startCPU = cpu
        startWall = monotonicNanos()
    }

    /// (CPU seconds used, percent of one core).
    func finish() -> (seconds: Double, percent: Double) {
        let cpu = (ProcessStats.cpuSeconds(pid: pid) ?? startCPU) - startCPU
        let wall = Double(monotonicNanos() - startWall) / 1e9
        return (cpu, wall > 0 ? cpu / wall * 100 : 0)
    }
}
