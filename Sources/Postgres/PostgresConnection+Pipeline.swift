internal import CLibPQ

extension PostgresConnection {
    /// Sends every statement in one round trip (libpq pipeline mode) and returns their
    /// results in order. If one fails, the ones after it are not run, and its error is
    /// thrown once all results have been read. Blocking.
    ///
    /// A request's `BEGIN`, tenant scope and reads travel together this way instead of
    /// waiting for the server between each.
    public func pipeline(_ queries: [PostgresQuery]) throws(PostgresError) -> [PostgresResult] {
        // Statements new to this connection are prepared first (once per connection).
        var names: [String?] = []
        for query in queries {
            try query.checkBinds()
            names.append(try preparedName(for: query))
        }
        guard PQenterPipelineMode(handle) == 1 else {
            throw PostgresError(code: .unavailable, message: lastErrorMessage)
        }
        var sendFailed = false
        for (query, name) in zip(queries, names) where !sendFailed {
            let count = Int32(query.binds.count)
            let sent = withOptionalCStrings(query.binds) { values in
                if let name { return PQsendQueryPrepared(handle, name, count, values, nil, nil, 0) }
                return PQsendQueryParams(handle, query.sql, count, nil, values, nil, nil, 0)
            }
            sendFailed = sent != 1
        }
        if sendFailed || PQpipelineSync(handle) != 1 {
            let error = PostgresError(code: .unavailable, message: lastErrorMessage)
            drainAndLeavePipeline()
            throw error
        }
        var results: [PostgresResult] = []
        var firstError: PostgresError?
        for _ in queries {
            guard let raw = PQgetResult(handle) else { break }
            let result = PostgresResult(takingOwnership: raw)
            // Each statement's result is followed by a NULL.
            while let extra = PQgetResult(handle) { PQclear(extra) }
            switch PQresultStatus(raw) {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                results.append(result)
            case PGRES_PIPELINE_ABORTED:
                break
            default:
                if firstError == nil { firstError = serverError(raw) }
            }
        }
        drainAndLeavePipeline()
        if let firstError { throw firstError }
        guard results.count == queries.count else {
            throw PostgresError(code: .unavailable, message: lastErrorMessage)
        }
        return results
    }

    /// Reads up to the pipeline's sync point and returns to normal mode.
    private func drainAndLeavePipeline() {
        while PQstatus(handle) == CONNECTION_OK, let raw = PQgetResult(handle) {
            let status = PQresultStatus(raw)
            PQclear(raw)
            if status == PGRES_PIPELINE_SYNC { break }
        }
        _ = PQexitPipelineMode(handle)
    }
}
