#include "steppar/run_report.hpp"

#include "steppar/error.hpp"

#include <algorithm>
#include <fstream>
#include <queue>
#include <set>
#include <tuple>

namespace steppar {
namespace fs = std::filesystem;

namespace {

bool ran(const TraceRow& row) {
    // A step that never ran (not selected, waiting for one that failed) has a row without time.
    return row.scope == TraceScope::step && row.end_us > row.start_us;
}

void add_usage(UnitFigures& unit, const ResourceUsage& u) {
    const auto plus = [](std::int64_t& sum, std::int64_t value) { if (value > 0) sum += value; };
    plus(unit.cpu_user_us, u.cpu_user_us);
    plus(unit.cpu_sys_us, u.cpu_sys_us);
    plus(unit.read_bytes, u.read_bytes);
    plus(unit.write_bytes, u.write_bytes);
    plus(unit.rchar, u.rchar);
    plus(unit.wchar, u.wchar);
    unit.max_rss_kib = std::max(unit.max_rss_kib, u.max_rss_kib);
}

// Orders the slowest: the heap's top is the fastest of those kept.
struct Slower {
    bool operator()(const SlowPartition& a, const SlowPartition& b) const {
        return std::tie(a.wall_us, b.partition) > std::tie(b.wall_us, a.partition);
    }
};

class Reader {
public:
    Reader(const fs::path& name, const ReportOptions& options) : options_(options) {
        report_.trace = name;
        report_.detail_limit = options.detail_limit;
    }

    void take(TraceRow row) {
        if (report_.run.empty()) report_.run = row.run;
        else if (row.run != report_.run)
            throw StateError("rows of two runs ('" + report_.run + "' and '" + row.run + "')");
        ++report_.rows;
        if (row.end_us > 0) {
            if (report_.start_us == 0 || row.start_us < report_.start_us) report_.start_us = row.start_us;
            report_.end_us = std::max(report_.end_us, row.end_us);
        }
        UnitFigures& unit = unit_of(row.unit);
        if (row.status == TraceStatus::failed) {
            ++report_.failed_rows;
            if (report_.failures.size() < options_.failures) report_.failures.push_back(row);
        }
        switch (row.scope) {
        case TraceScope::partitions:
            unit.partitions[row.status] += std::max(row.partitions, 0LL);
            reason(row, "", std::max(row.partitions, 0LL));  // counted, never listed
            break;
        case TraceScope::partition: partition(unit, row); break;
        case TraceScope::step: step(unit, std::move(row)); break;
        }
    }

    RunReport finish() {
        std::vector<SlowPartition> slowest;
        while (!slowest_.empty()) {
            slowest.push_back(slowest_.top());
            slowest_.pop();
        }
        std::reverse(slowest.begin(), slowest.end());
        report_.slowest = std::move(slowest);
        slice_balance();
        concurrency();
        std::stable_sort(report_.reasons.begin(), report_.reasons.end(), [&](const ReasonGroup& a, const ReasonGroup& b) {
            return std::tie(unit_index_.at(a.unit), b.count) < std::tie(unit_index_.at(b.unit), a.count);
        });
        return std::move(report_);
    }

private:
    UnitFigures& unit_of(const std::string& name) {
        auto [it, added] = unit_index_.emplace(name, report_.units.size());
        if (added) {
            report_.units.emplace_back();
            report_.units.back().name = name;
        }
        return report_.units[it->second];
    }

    void reason(const TraceRow& row, const std::string& example, long long count) {
        const auto key = std::make_tuple(row.unit, row.status, row.scope == TraceScope::step, row.message);
        auto [it, added] = reason_index_.emplace(key, report_.reasons.size());
        if (added) {
            ReasonGroup& group = report_.reasons.emplace_back();
            group.unit = row.unit;
            group.status = row.status;
            group.scope = row.scope == TraceScope::step ? TraceScope::step : TraceScope::partition;
            group.message = row.message;
        }
        ReasonGroup& group = report_.reasons[it->second];
        group.count += count;
        if (!example.empty() && group.examples.size() < options_.examples) group.examples.push_back(example);
    }

    // Partition rows come before the step row of their attempt: they wait here for its index.
    void partition(UnitFigures& unit, const TraceRow& row) {
        ++report_.partition_rows;
        ++unit.partitions[row.status];
        if (row.status != TraceStatus::ok && row.status != TraceStatus::failed) reason(row, row.partition, 1);
        const std::int64_t wall = row.end_us - row.start_us;
        Pending& pending = pending_[{row.step, row.attempt}];
        ++pending.rows;
        pending.wall_us += wall;
        if (wall >= pending.longest_us) {
            pending.longest_us = wall;
            pending.longest = row.partition;
        }
        if (row.status == TraceStatus::ok || row.status == TraceStatus::failed) {
            SlowPartition slow{row.unit, row.step, row.partition, row.attempt, row.status, wall};
            if (slowest_.size() < options_.top) slowest_.push(std::move(slow));
            else if (options_.top > 0 && Slower{}(slow, slowest_.top())) {
                slowest_.pop();
                slowest_.push(std::move(slow));
            }
        }
        if (report_.detailed) {
            if (report_.partition_rows > static_cast<long long>(options_.detail_limit)) {
                report_.detailed = false;
                report_.spans.clear();
                report_.spans.shrink_to_fit();
                pending_spans_.clear();
            } else {
                PartitionSpan& span = pending_spans_[{row.step, row.attempt}].emplace_back();
                span.partition = row.partition;
                span.status = row.status;
                span.start_us = row.start_us;
                span.end_us = row.end_us;
            }
        }
    }

    void step(UnitFigures& unit, TraceRow row) {
        if (row.kind == StepKind::slice) slices_[row.unit].insert(row.slice);
        if (row.status != TraceStatus::ok && row.status != TraceStatus::failed) reason(row, row.step, 1);
        if (ran(row)) {
            ++unit.attempts;
            if (unit.first_start_us == 0 || row.start_us < unit.first_start_us) unit.first_start_us = row.start_us;
            unit.last_end_us = std::max(unit.last_end_us, row.end_us);
            unit.busy_us += row.end_us - row.start_us;
            add_usage(unit, row.usage);
        }
        StepAttempt attempt;
        const std::pair<std::string, int> key{row.step, row.attempt};
        if (const auto p = pending_.find(key); p != pending_.end()) {
            attempt.partition_rows = p->second.rows;
            attempt.partition_us = p->second.wall_us;
            attempt.longest_us = p->second.longest_us;
            attempt.longest = std::move(p->second.longest);
            pending_.erase(p);
        }
        if (const auto s = pending_spans_.find(key); s != pending_spans_.end()) {
            for (auto& span : s->second) {
                span.attempt = report_.attempts.size();
                report_.spans.push_back(std::move(span));
            }
            pending_spans_.erase(s);
        }
        attempt.row = std::move(row);
        report_.attempts.push_back(std::move(attempt));
    }

    // Per unit: the longest slice and the median one, over each slice's last attempt.
    void slice_balance() {
        std::map<std::string, std::map<int, std::int64_t>> last;  // unit -> slice -> wall
        for (const auto& a : report_.attempts)
            if (a.row.kind == StepKind::slice && ran(a.row)) last[a.row.unit][a.row.slice] = a.row.end_us - a.row.start_us;
        for (auto& unit : report_.units) {
            unit.slices = slices_.count(unit.name) ? static_cast<long long>(slices_[unit.name].size()) : 0;
            const auto it = last.find(unit.name);
            if (it == last.end()) continue;
            std::vector<std::int64_t> walls;
            for (const auto& [slice, wall] : it->second) walls.push_back(wall);
            std::sort(walls.begin(), walls.end());
            unit.slice_longest_us = walls.back();
            unit.slice_median_us = walls[(walls.size() - 1) / 2];
        }
    }

    // Steps running at once: +1 at each start, -1 at each end, ends first where they meet.
    void concurrency() {
        std::vector<std::pair<std::int64_t, int>> events;
        for (const auto& a : report_.attempts)
            if (ran(a.row)) {
                events.emplace_back(a.row.start_us, +1);
                events.emplace_back(a.row.end_us, -1);
            }
        std::sort(events.begin(), events.end());
        int running = 0;
        std::int64_t step_time = 0;
        for (const auto& [at, delta] : events) {
            running += delta;
            if (!report_.concurrency.empty() && report_.concurrency.back().at_us == at) report_.concurrency.back().running = running;
            else report_.concurrency.push_back({at, running});
            report_.peak_concurrency = std::max(report_.peak_concurrency, running);
        }
        for (const auto& a : report_.attempts)
            if (ran(a.row)) step_time += a.row.end_us - a.row.start_us;
        const std::int64_t wall = report_.end_us - report_.start_us;
        report_.mean_concurrency = wall > 0 ? static_cast<double>(step_time) / static_cast<double>(wall) : 0.0;
    }

    struct Pending {
        long long rows = 0;
        std::int64_t wall_us = 0, longest_us = 0;
        std::string longest;
    };

    const ReportOptions& options_;
    RunReport report_;
    std::map<std::string, std::size_t> unit_index_;
    std::map<std::tuple<std::string, TraceStatus, bool, std::string>, std::size_t> reason_index_;
    std::map<std::pair<std::string, int>, Pending> pending_;
    std::map<std::pair<std::string, int>, std::vector<PartitionSpan>> pending_spans_;
    std::map<std::string, std::set<int>> slices_;
    std::priority_queue<SlowPartition, std::vector<SlowPartition>, Slower> slowest_;
};

}  // namespace

std::string RunReport::outcome() const {
    // A step's last attempt decides: a failure that a retry made good is not the run's failure.
    std::map<std::string_view, const TraceRow*> last;
    for (const auto& a : attempts) {
        const TraceRow*& seen = last[a.row.step];
        if (!seen || a.row.attempt >= seen->attempt) seen = &a.row;
    }
    bool stopped = false;
    for (const auto& [step, row] : last) {
        if (row->status == TraceStatus::failed) return "failed";
        if (row->status == TraceStatus::skipped && ran(*row)) stopped = true;
    }
    return stopped ? "stopped" : "ok";
}

long long RunReport::partitions_with(TraceStatus status) const {
    long long n = 0;
    for (const auto& unit : units)
        if (const auto it = unit.partitions.find(status); it != unit.partitions.end()) n += it->second;
    return n;
}

RunReport read_run_report(std::istream& trace, const fs::path& name, const ReportOptions& options) {
    Reader reader(name, options);
    std::string line;
    std::size_t number = 0;
    const std::string_view header = trace_header().substr(0, trace_header().size() - 1);
    while (std::getline(trace, line)) {
        ++number;
        if (number == 1) {
            if (line != header) throw StateError(name.string() + ":1: not a steppar trace (its first line is not the trace's header)");
            continue;
        }
        if (line.empty()) continue;
        try {
            reader.take(parse_trace_row(line));
        } catch (const StateError& e) {
            throw StateError(name.string() + ":" + std::to_string(number) + ": " + e.what());
        }
    }
    if (number == 0) throw StateError(name.string() + ": empty, not a steppar trace");
    return reader.finish();
}

RunReport read_run_report(const fs::path& trace, const ReportOptions& options) {
    std::ifstream in(trace, std::ios::binary);
    if (!in) throw StateError("cannot read the trace " + trace.string());
    return read_run_report(in, trace, options);
}

fs::path find_trace(const fs::path& traces_folder, const std::string& run) {
    std::error_code ec;
    if (!run.empty() && fs::is_regular_file(run, ec)) return run;
    std::vector<std::string> ids;  // sorted: ids of one machine sort by time
    for (const auto& entry : fs::directory_iterator(traces_folder, ec)) {
        const std::string file = entry.path().filename().string();
        if (entry.is_regular_file(ec) && file.size() > 4 && file.ends_with(".tsv")) ids.push_back(file.substr(0, file.size() - 4));
    }
    std::sort(ids.begin(), ids.end());
    if (ids.empty())
        throw UsageError("no trace in " + traces_folder.string() +
                         (run.empty() ? "; run the pipeline first (every run writes one), or give a trace file"
                                      : "; '" + run + "' is neither a trace file nor a run id there"));
    if (run.empty()) return traces_folder / (ids.back() + ".tsv");
    std::vector<std::string> matches;
    for (const auto& id : ids)
        if (id.compare(0, run.size(), run) == 0) matches.push_back(id);
    if (matches.size() == 1) return traces_folder / (matches.front() + ".tsv");
    const std::string known = " (runs there: " + ids.front() + (ids.size() > 1 ? " ... " + ids.back() : "") + ", " +
                              std::to_string(ids.size()) + " in all)";
    if (matches.empty())
        throw UsageError("'" + run + "' is neither a trace file nor a run id in " + traces_folder.string() + known);
    throw UsageError("'" + run + "' matches " + std::to_string(matches.size()) + " runs in " + traces_folder.string() +
                     " (" + matches.front() + ", " + matches[1] + ", ...): give more of the run id");
}

}  // namespace steppar
