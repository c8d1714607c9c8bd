import CCeldaSupport

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Threads of the engine, the chunked decoder and the capture reader (POSIX threads: each is
/// joined or detached by its owner, and a thread that cannot be started is a fatal error).
enum Threads {
    final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// Starts `body` on a new thread (`stackSize` bytes of stack when given); `what` names it in
    /// the error when it cannot start, `name` (at most 15 bytes) in `top -H`, `ps -L` and
    /// `/proc/PID/task/*/comm`, so a profile can tell the threads apart.
    static func start(
        _ what: String, name: String, stackSize: Int? = nil, _ body: @escaping () -> Void
    ) -> pthread_t {
        var thread = pthread_t()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        if let stackSize { pthread_attr_setstacksize(&attr, stackSize) }
        let box = Unmanaged.passRetained(
            Body {
                name.withCString { celda_name_this_thread($0) }
                body()
            }
        ).toOpaque()
        let rc = pthread_create(
            &thread, &attr,
            { arg in
                Unmanaged<Body>.fromOpaque(arg!).takeRetainedValue().run()
                return nil
            }, box)
        pthread_attr_destroy(&attr)
        precondition(rc == 0, "cannot start \(what)")
        return thread
    }
}
