internal import CLibPQ
import Foundation

extension PostgresConnection {
    /// Waits up to `timeout` for a notification on a channel this session LISTENs to,
    /// and consumes every notification that arrived. Returns whether any did. Blocking:
    /// call it from a pool lease (a lease of its own: it holds the thread meanwhile).
    ///
    /// What a notification said is not returned: the listeners here use it as a wake-up
    /// and read what changed from the tables.
    public func waitForNotifications(timeout: Duration) throws(PostgresError) -> Bool {
        if try consumeNotifications() { return true }
        let socket = PQsocket(handle)
        guard socket >= 0 else { throw PostgresError(code: .unavailable, message: "the connection has no socket") }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(
            clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let ready = poll(&descriptor, 1, max(0, milliseconds))
        guard ready > 0 else { return false }
        return try consumeNotifications()
    }

    /// Ends every LISTEN of the session and drops what arrived, so that the connection
    /// goes back to its pool quiet (an idle pooled connection with something to read is
    /// taken for one whose server went away).
    public func stopListening() throws(PostgresError) {
        try execute(unsafeSQL: "UNLISTEN *")
        _ = try consumeNotifications()
    }

    /// Reads what the server sent and drops the notifications; whether there were any.
    private func consumeNotifications() throws(PostgresError) -> Bool {
        guard PQconsumeInput(handle) == 1 else { throw PostgresError(code: .unavailable, message: lastErrorMessage) }
        var any = false
        while let notification = PQnotifies(handle) {
            any = true
            PQfreemem(notification)
        }
        return any
    }
}
