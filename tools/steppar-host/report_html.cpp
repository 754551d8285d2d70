#include "report_html.hpp"

#include <steppar/text.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

namespace steppar::cli {
namespace {

std::string esc(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    return out;
}

std::string fmt(const char* format, double value) {
    char text[64];
    std::snprintf(text, sizeof text, format, value);
    return text;
}

// "850 us", "12.4 ms", "3.21 s", "4m 05s", "2h 03m".
std::string duration(std::int64_t us) {
    if (us < 1000) return std::to_string(us) + " us";
    if (us < 1000000) return fmt("%.1f ms", static_cast<double>(us) / 1e3);
    if (us < 60000000) return fmt("%.2f s", static_cast<double>(us) / 1e6);
    const std::int64_t s = us / 1000000;
    char text[64];
    if (s < 3600) std::snprintf(text, sizeof text, "%lldm %02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
    else std::snprintf(text, sizeof text, "%lldh %02lldm", static_cast<long long>(s / 3600), static_cast<long long>(s / 60 % 60));
    return text;
}

std::string count(long long n) { return count_text(static_cast<std::size_t>(std::max(n, 0LL))); }

// A figure: the text people read, and its exact value for programs (and tests).
std::string cell(const std::string& key, const std::string& value, const std::string& text) {
    return "<td data-k=\"" + esc(key) + "\" data-v=\"" + esc(value) + "\">" + esc(text) + "</td>";
}
std::string cell(const std::string& key, long long value, const std::string& text) { return cell(key, std::to_string(value), text); }

const char* css_status(TraceStatus status) {
    switch (status) {
    case TraceStatus::ok: return "ok";
    case TraceStatus::failed: return "failed";
    case TraceStatus::skipped: return "skipped";
    case TraceStatus::up_to_date: return "uptodate";
    case TraceStatus::retracted: return "retracted";
    }
    return "skipped";
}

constexpr TraceStatus all_statuses[] = {TraceStatus::ok, TraceStatus::failed, TraceStatus::skipped, TraceStatus::up_to_date,
                                        TraceStatus::retracted};

bool ran(const TraceRow& row) { return row.scope == TraceScope::step && row.end_us > row.start_us; }

std::string usage_words(const ResourceUsage& u) {
    std::string text;
    if (u.cpu_user_us >= 0) text += ", cpu " + duration(u.cpu_user_us) + " user + " + duration(std::max<std::int64_t>(u.cpu_sys_us, 0)) + " sys";
    if (u.max_rss_kib >= 0) text += ", peak " + bytes_text(static_cast<unsigned long long>(u.max_rss_kib) * 1024);
    return text;
}

// What a unit's steps came to, from each step's last attempt: failed, ran, up-to-date, not-run.
std::map<std::string, std::string> unit_states(const RunReport& report) {
    std::map<std::string, const TraceRow*> last;
    for (const auto& a : report.attempts) {
        const TraceRow*& seen = last[a.row.step];
        if (!seen || a.row.attempt >= seen->attempt) seen = &a.row;
    }
    std::map<std::string, std::string> state;
    for (const auto& [step, row] : last) {
        std::string& s = state[row->unit];
        const std::string now = row->status == TraceStatus::failed ? "failed"
                                : row->status == TraceStatus::ok && ran(*row) ? "ran"
                                : row->status == TraceStatus::up_to_date      ? "uptodate"
                                                                              : "skipped";
        static const std::map<std::string, int> rank = {{"", 0}, {"skipped", 1}, {"uptodate", 2}, {"ran", 3}, {"failed", 4}};
        if (rank.at(now) > rank.at(s)) s = now;
    }
    return state;
}

const char* state_words(const std::string& state) {
    if (state == "failed") return "failed";
    if (state == "ran") return "ran";
    if (state == "uptodate") return "up to date";
    return "not run";
}

class Page {
public:
    Page(const RunReport& report, const Pipeline& pipeline) : r_(report), pipeline_(pipeline), states_(unit_states(report)) {}

    void summary(const std::string& pipeline_file) {
        const std::string outcome = r_.outcome();
        out_ += "<h1>steppar run <code>" + esc(r_.run) + "</code> <span class=\"badge " + outcome + "\">" + outcome + "</span></h1>\n";
        out_ += "<section id=\"summary\"><table class=\"facts\">\n";
        long long ran_steps = 0;
        std::set<std::string> hosts;
        for (const auto& a : r_.attempts) {
            if (ran(a.row)) ++ran_steps;
            if (!a.row.host.empty()) hosts.insert(a.row.host);
        }
        row("Pipeline", cell("pipeline", pipeline_file, pipeline_file));
        row("Trace", cell("trace", r_.trace.string(), r_.trace.string()));
        row("Outcome", cell("outcome", outcome, outcome));
        row("Started", cell("start_us", r_.start_us, utc_text(r_.start_us)));
        row("Ended", cell("end_us", r_.end_us, utc_text(r_.end_us)));
        row("Wall", cell("wall_us", r_.end_us - r_.start_us, duration(r_.end_us - r_.start_us)));
        row("Step attempts that ran", cell("steps_ran", ran_steps, count(ran_steps)));
        std::string parts;
        for (const auto s : all_statuses)
            parts += cell("partitions_" + std::string(to_string(s)), r_.partitions_with(s), count(r_.partitions_with(s)) + " " + to_string(s));
        out_ += "<tr><th>Partitions</th>" + parts + "</tr>\n";
        row("Concurrency", cell("peak_concurrency", r_.peak_concurrency, "peak " + std::to_string(r_.peak_concurrency)) +
                               cell("mean_concurrency", fmt("%.2f", r_.mean_concurrency), "mean " + fmt("%.2f", r_.mean_concurrency)));
        std::vector<std::string> host_list(hosts.begin(), hosts.end());
        row("Hosts", cell("hosts", join(host_list), join_first(host_list, 8)));
        out_ += "</table>\n";
        if (!r_.detailed)
            out_ += "<p class=\"note\">" + count(r_.partition_rows) +
                    " partition rows: the timeline shows each step's attempts without their partitions; the tables have every "
                    "figure.</p>\n";
        out_ += "</section>\n";
    }

    void graph() {
        const auto& units = pipeline_.units();
        std::vector<int> layer(units.size(), -1);
        std::function<int(std::size_t)> depth = [&](std::size_t u) {
            if (layer[u] >= 0) return layer[u];
            layer[u] = 0;  // a cycle cannot reach here (the pipeline is validated); this guards anyway
            int d = 0;
            for (const auto up : pipeline_.upstream(u)) d = std::max(d, depth(up) + 1);
            return layer[u] = d;
        };
        std::vector<int> rows_in_layer;
        std::vector<std::pair<double, double>> at(units.size());
        constexpr double box_w = 190, box_h = 56, gap_x = 70, gap_y = 18;
        for (std::size_t u = 0; u < units.size(); ++u) {
            const int l = depth(u);
            if (static_cast<int>(rows_in_layer.size()) <= l) rows_in_layer.resize(static_cast<std::size_t>(l) + 1, 0);
            at[u] = {10 + l * (box_w + gap_x), 10 + rows_in_layer[static_cast<std::size_t>(l)]++ * (box_h + gap_y)};
        }
        int most_rows = 0;
        for (const int n : rows_in_layer) most_rows = std::max(most_rows, n);
        const double width = 20 + static_cast<double>(rows_in_layer.size()) * (box_w + gap_x);
        const double height = 20 + most_rows * (box_h + gap_y);
        out_ += "<section id=\"graph\"><h2>Pipeline</h2>\n<svg class=\"graph\" width=\"" + fmt("%.0f", width) + "\" height=\"" +
                fmt("%.0f", height) + "\" viewBox=\"0 0 " + fmt("%.0f", width) + " " + fmt("%.0f", height) + "\">\n";
        out_ += "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
                "orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n";
        for (std::size_t u = 0; u < units.size(); ++u)
            for (const auto up : pipeline_.upstream(u)) {
                std::vector<std::string> through;  // the datasets `up` writes and `u` reads
                std::set<std::string> written;
                for (const auto& n : units[up].nodes) written.insert(n.outputs.begin(), n.outputs.end());
                for (const auto& n : units[u].nodes)
                    for (const auto& in : n.inputs)
                        if (written.count(in) && std::find(through.begin(), through.end(), in) == through.end()) through.push_back(in);
                const double x1 = at[up].first + box_w, y1 = at[up].second + box_h / 2, x2 = at[u].first, y2 = at[u].second + box_h / 2;
                out_ += "<path class=\"edge\" data-from=\"" + esc(units[up].name) + "\" data-to=\"" + esc(units[u].name) + "\" d=\"M" +
                        fmt("%.1f", x1) + "," + fmt("%.1f", y1) + " C" + fmt("%.1f", x1 + gap_x / 2) + "," + fmt("%.1f", y1) + " " +
                        fmt("%.1f", x2 - gap_x / 2) + "," + fmt("%.1f", y2) + " " + fmt("%.1f", x2) + "," + fmt("%.1f", y2) +
                        "\" marker-end=\"url(#arrow)\"><title>" + esc(join(through)) + "</title></path>\n";
            }
        for (std::size_t u = 0; u < units.size(); ++u) {
            const Unit& unit = units[u];
            const auto s = states_.find(unit.name);
            const std::string state = s == states_.end() ? "skipped" : s->second;
            std::string kind = unit.kind == UnitKind::node ? "node" : unit.kind == UnitKind::multinode ? "multinode" : "multipipeline";
            const UnitFigures* figures = unit_figures(unit.name);
            if (figures && figures->slices > 0) kind += " \xC2\xB7 " + std::to_string(figures->slices) + " slices";
            std::vector<std::string> functions;
            for (const auto& n : unit.nodes) functions.push_back(n.name);
            out_ += "<g class=\"unit " + state + "\" data-unit=\"" + esc(unit.name) + "\" data-state=\"" + state + "\"><title>" +
                    esc(unit.name + ": " + join(functions, " -> ") + " (" + state_words(state) + ")") + "</title><rect x=\"" +
                    fmt("%.1f", at[u].first) + "\" y=\"" + fmt("%.1f", at[u].second) + "\" width=\"" + fmt("%.0f", box_w) +
                    "\" height=\"" + fmt("%.0f", box_h) + "\" rx=\"6\"/>";
            const double tx = at[u].first + 8, ty = at[u].second;
            out_ += "<text x=\"" + fmt("%.1f", tx) + "\" y=\"" + fmt("%.1f", ty + 18) + "\" class=\"name\">" + esc(clip(unit.name, 24)) +
                    "</text><text x=\"" + fmt("%.1f", tx) + "\" y=\"" + fmt("%.1f", ty + 33) + "\">" + esc(kind) + "</text><text x=\"" +
                    fmt("%.1f", tx) + "\" y=\"" + fmt("%.1f", ty + 48) + "\">" + esc(unit_line(state, figures)) + "</text></g>\n";
        }
        out_ += "</svg>\n";
        std::vector<std::string> gone;  // units of the trace the pipeline no longer has
        for (const auto& f : r_.units)
            if (std::none_of(units.begin(), units.end(), [&](const Unit& u) { return u.name == f.name; })) gone.push_back(f.name);
        if (!gone.empty())
            out_ += "<p class=\"note\">In the trace but no longer in the pipeline: " + esc(join(gone)) + ".</p>\n";
        out_ += "</section>\n";
    }

    void timeline() {
        std::vector<std::string> lanes;  // steps that ran, by unit, then slicer, slices, node, barrier
        {
            std::map<std::string, std::size_t> unit_order;
            for (const auto& u : r_.units) unit_order.emplace(u.name, unit_order.size());
            std::map<std::tuple<std::size_t, int, int, std::string>, std::string> order;
            for (const auto& a : r_.attempts)
                if (ran(a.row)) {
                    const int rank = a.row.kind == StepKind::slicer ? 0 : a.row.kind == StepKind::barrier ? 2 : 1;
                    order.emplace(std::make_tuple(unit_order[a.row.unit], rank, a.row.slice, a.row.step), a.row.step);
                }
            for (const auto& [key, step] : order) lanes.push_back(step);
        }
        std::map<std::string, std::size_t> lane_of;
        for (const auto& step : lanes) lane_of.emplace(step, lane_of.size());
        const double lane_h = lanes.size() <= 60 ? 16 : lanes.size() <= 400 ? 8 : 3;
        const bool labels = lane_h >= 8;
        const double left = labels ? 170 : 10, plot_w = 960, top = 24;
        const double height = top + static_cast<double>(lanes.size()) * lane_h + 8;
        const std::int64_t wall = std::max<std::int64_t>(r_.end_us - r_.start_us, 1);
        const auto x = [&](std::int64_t t) { return left + static_cast<double>(t - r_.start_us) * plot_w / static_cast<double>(wall); };
        out_ += "<section id=\"timeline\"><h2>Timeline</h2>\n<p class=\"note\">One lane per step, a bar per attempt";
        out_ += r_.detailed ? ", and inside it the partitions the attempt ran (hover for names and times).</p>\n"
                            : "; partitions are left out above " + count(static_cast<long long>(r_.detail_limit)) + " partition rows.</p>\n";
        out_ += "<svg class=\"timeline\" width=\"" + fmt("%.0f", left + plot_w + 10) + "\" height=\"" + fmt("%.0f", height) + "\">\n";
        axis(left, plot_w, top, height - 8, wall);
        if (labels)
            for (std::size_t i = 0; i < lanes.size(); ++i)
                out_ += "<text class=\"lane\" x=\"" + fmt("%.0f", left - 6) + "\" y=\"" +
                        fmt("%.1f", top + static_cast<double>(i) * lane_h + lane_h * 0.75) + "\">" + esc(clip(lanes[i], 26)) + "</text>\n";
        for (std::size_t i = 0; i < r_.attempts.size(); ++i) {
            const TraceRow& row = r_.attempts[i].row;
            if (!ran(row)) continue;
            const double y = top + static_cast<double>(lane_of.at(row.step)) * lane_h + 1;
            const double x1 = x(row.start_us), w = std::max(x(row.end_us) - x1, 1.0);
            std::string title = row.step + " attempt " + std::to_string(row.attempt) + ": " + to_string(row.status) + ", " +
                                duration(row.end_us - row.start_us);
            if (r_.attempts[i].partition_rows > 0) title += ", " + count(r_.attempts[i].partition_rows) + " partitions";
            title += usage_words(row.usage);
            if (!row.message.empty()) title += "\n" + row.message;
            out_ += "<rect class=\"bar s-" + std::string(css_status(row.status)) + (r_.detailed ? " framed" : "") + "\" data-step=\"" +
                    esc(row.step) + "\" data-attempt=\"" + std::to_string(row.attempt) + "\" data-start=\"" +
                    std::to_string(row.start_us) + "\" data-end=\"" + std::to_string(row.end_us) + "\" x=\"" + fmt("%.2f", x1) +
                    "\" y=\"" + fmt("%.1f", y) + "\" width=\"" + fmt("%.2f", w) + "\" height=\"" + fmt("%.1f", lane_h - 2) + "\"><title>" +
                    esc(title) + "</title></rect>\n";
        }
        for (const auto& span : r_.spans) {
            const TraceRow& row = r_.attempts[span.attempt].row;
            if (!lane_of.count(row.step)) continue;
            const double y = top + static_cast<double>(lane_of.at(row.step)) * lane_h + 3;
            const double x1 = x(span.start_us), w = std::max(x(span.end_us) - x1, 0.5);
            out_ += "<rect class=\"part s-" + std::string(css_status(span.status)) + "\" data-partition=\"" + esc(span.partition) +
                    "\" x=\"" + fmt("%.2f", x1) + "\" y=\"" + fmt("%.1f", y) + "\" width=\"" + fmt("%.2f", w) + "\" height=\"" +
                    fmt("%.1f", std::max(lane_h - 6, 1.0)) + "\"><title>" +
                    esc(span.partition + " (" + row.step + "): " + to_string(span.status) + ", " + duration(span.end_us - span.start_us)) +
                    "</title></rect>\n";
        }
        out_ += "</svg>\n</section>\n";
    }

    void concurrency() {
        const double left = 50, plot_w = 960, top = 10, plot_h = 110;
        const std::int64_t wall = std::max<std::int64_t>(r_.end_us - r_.start_us, 1);
        const int peak = std::max(r_.peak_concurrency, 1);
        const auto x = [&](std::int64_t t) { return left + static_cast<double>(t - r_.start_us) * plot_w / static_cast<double>(wall); };
        const auto y = [&](int n) { return top + plot_h - plot_h * n / peak; };
        // Changes closer than a pixel would only add bytes: a pixel shows its highest level for
        // one pixel, then the level it ended at, so the path has at most two steps per pixel.
        std::string path = "M" + fmt("%.1f", left) + "," + fmt("%.1f", y(0));
        double pixel = -1;
        int level = 0, highest = 0;
        const auto flush = [&] {
            if (pixel < 0) return;
            path += " H" + fmt("%.0f", pixel) + " V" + fmt("%.1f", y(highest)) + " H" + fmt("%.0f", pixel + 1) + " V" + fmt("%.1f", y(level));
        };
        for (const auto& point : r_.concurrency) {
            const double px = std::floor(x(point.at_us));
            if (px != pixel) {
                flush();
                pixel = px;
                highest = level;
            }
            level = point.running;
            highest = std::max(highest, level);
        }
        flush();
        path += " H" + fmt("%.1f", left + plot_w) + " V" + fmt("%.1f", y(0)) + " Z";
        out_ += "<section id=\"concurrency\"><h2>Concurrency</h2>\n<p class=\"note\">Steps running at once (slicers, slices, "
                "barriers, nodes): peak " + std::to_string(r_.peak_concurrency) + ", mean " + fmt("%.2f", r_.mean_concurrency) +
                " over the run.</p>\n";
        out_ += "<svg class=\"concurrency\" width=\"" + fmt("%.0f", left + plot_w + 10) + "\" height=\"" + fmt("%.0f", top + plot_h + 30) +
                "\">\n<path class=\"area\" d=\"" + path + "\"/>\n";
        out_ += "<text x=\"" + fmt("%.0f", left - 6) + "\" y=\"" + fmt("%.1f", top + 10) + "\" class=\"lane\">" + std::to_string(peak) +
                "</text><text x=\"" + fmt("%.0f", left - 6) + "\" y=\"" + fmt("%.1f", top + plot_h) + "\" class=\"lane\">0</text>\n";
        axis(left, plot_w, top + plot_h + 14, top + plot_h, wall, false);
        out_ += "</svg>\n</section>\n";
    }

    void units() {
        out_ += "<section id=\"units\"><h2>Units</h2>\n<table class=\"grid\"><tr><th>Unit</th><th>State</th>";
        for (const auto s : all_statuses) out_ += "<th>" + std::string(to_string(s)) + "</th>";
        out_ += "<th>Attempts</th><th>Span</th><th>Process time</th><th>CPU user</th><th>CPU sys</th><th>Peak memory</th>"
                "<th>Read</th><th>Written</th><th>Slowest slice / median</th></tr>\n";
        for (const auto& u : r_.units) {
            const std::string k = "unit:" + u.name + ":";
            const auto s = states_.find(u.name);
            const std::string state = s == states_.end() ? "skipped" : s->second;
            out_ += "<tr data-unit=\"" + esc(u.name) + "\"><td>" + esc(u.name) + "</td><td class=\"" + state + "\">" + state_words(state) + "</td>";
            for (const auto st : all_statuses) {
                const auto it = u.partitions.find(st);
                const long long n = it == u.partitions.end() ? 0 : it->second;
                out_ += cell(k + to_string(st), n, count(n));
            }
            const std::int64_t span = u.last_end_us - u.first_start_us;
            out_ += cell(k + "attempts", u.attempts, count(u.attempts)) + cell(k + "span_us", span, duration(span)) +
                    cell(k + "busy_us", u.busy_us, duration(u.busy_us)) + cell(k + "cpu_user_us", u.cpu_user_us, duration(u.cpu_user_us)) +
                    cell(k + "cpu_sys_us", u.cpu_sys_us, duration(u.cpu_sys_us)) +
                    cell(k + "max_rss_kib", u.max_rss_kib, bytes_text(static_cast<unsigned long long>(u.max_rss_kib) * 1024)) +
                    cell(k + "rchar", u.rchar, bytes_text(static_cast<unsigned long long>(u.rchar))) +
                    cell(k + "wchar", u.wchar, bytes_text(static_cast<unsigned long long>(u.wchar)));
            out_ += u.slices > 0 ? cell(k + "slice_longest_us", u.slice_longest_us,
                                        duration(u.slice_longest_us) + " / " + duration(u.slice_median_us) +
                                            (u.slice_median_us > 0 ? fmt(" (%.1fx)", static_cast<double>(u.slice_longest_us) /
                                                                                      static_cast<double>(u.slice_median_us))
                                                                   : ""))
                                 : "<td></td>";
            out_ += "</tr>\n";
        }
        out_ += "</table>\n<p class=\"note\">Process time sums the wall time of every attempt; CPU, memory (the largest peak of "
                "one process) and I/O (bytes through read and write calls) are what the steps' processes measured of "
                "themselves.</p>\n</section>\n";
    }

    void reasons() {
        out_ += "<section id=\"reasons\"><h2>Skipped, retracted and up to date</h2>\n";
        if (r_.reasons.empty()) {
            out_ += "<p>Nothing: every step and partition of the run ran.</p>\n</section>\n";
            return;
        }
        out_ += "<table class=\"grid\"><tr><th>Unit</th><th>Status</th><th>What</th><th>Count</th><th>Why</th><th>For example</th></tr>\n";
        for (const auto& g : r_.reasons)
            out_ += "<tr class=\"reason\"><td>" + esc(g.unit) + "</td><td class=\"s-" + css_status(g.status) + "\">" + to_string(g.status) +
                    "</td><td>" + (g.scope == TraceScope::step ? "steps" : "partitions") + "</td>" +
                    cell("reason:" + g.unit + ":" + to_string(g.status) + ":" + g.message, g.count, count(g.count)) + "<td>" +
                    esc(g.message.empty() ? std::string(g.status == TraceStatus::up_to_date ? "inputs, definition and outputs unchanged"
                                                                                            : "")
                                          : g.message) +
                    "</td><td>" + esc(join_first(g.examples, g.examples.size())) + "</td></tr>\n";
        out_ += "</table>\n</section>\n";
    }

    void slowest() {
        out_ += "<section id=\"slowest\"><h2>Slowest partitions</h2>\n";
        if (r_.slowest.empty()) {
            out_ += "<p>No partition ran.</p>\n</section>\n";
            return;
        }
        out_ += "<table class=\"grid\"><tr><th>#</th><th>Partition</th><th>Unit</th><th>Step</th><th>Attempt</th><th>Status</th>"
                "<th>Time</th></tr>\n";
        for (std::size_t i = 0; i < r_.slowest.size(); ++i) {
            const auto& p = r_.slowest[i];
            out_ += "<tr class=\"slow\" data-partition=\"" + esc(p.partition) + "\"><td>" + std::to_string(i + 1) + "</td><td>" +
                    esc(p.partition) + "</td><td>" + esc(p.unit) + "</td><td>" + esc(p.step) + "</td><td>" + std::to_string(p.attempt) +
                    "</td><td class=\"s-" + css_status(p.status) + "\">" + to_string(p.status) + "</td>" +
                    cell("slow:" + p.step + "#" + std::to_string(p.attempt) + ":" + p.partition, p.wall_us, duration(p.wall_us)) + "</tr>\n";
        }
        out_ += "</table>\n</section>\n";
    }

    void failures() {
        out_ += "<section id=\"failures\"><h2>Failures</h2>\n";
        if (r_.failed_rows == 0) {
            out_ += "<p>None.</p>\n</section>\n";
            return;
        }
        out_ += "<p>" + count(r_.failed_rows) + " failed rows" +
                (static_cast<long long>(r_.failures.size()) < r_.failed_rows ? ", the first " + count(static_cast<long long>(r_.failures.size())) + " listed" : std::string()) +
                " (a retry that succeeded shows as a later ok attempt in the timeline).</p>\n";
        out_ += "<table class=\"grid\"><tr><th>Step</th><th>Partition</th><th>Attempt</th><th>Exit</th><th>Host</th><th>Message</th></tr>\n";
        for (const auto& f : r_.failures)
            out_ += "<tr class=\"failure\" data-step=\"" + esc(f.step) + "\" data-attempt=\"" + std::to_string(f.attempt) + "\"><td>" + esc(f.step) +
                    "</td><td>" + esc(f.partition) + "</td><td>" + std::to_string(f.attempt) + "</td><td>" + esc(f.exit) + "</td><td>" +
                    esc(f.host) + "</td><td class=\"message\">" + esc(f.message) + "</td></tr>\n";
        out_ += "</table>\n</section>\n";
    }

    std::string take() { return std::move(out_); }

private:
    void row(const std::string& name, const std::string& cells) { out_ += "<tr><th>" + esc(name) + "</th>" + cells + "</tr>\n"; }

    // Ticks at 1, 2 or 5 times a power of ten seconds, about eight of them.
    void axis(double left, double plot_w, double label_y, double grid_bottom, std::int64_t wall, bool grid = true) {
        const double seconds = static_cast<double>(wall) / 1e6;
        double step = std::pow(10.0, std::floor(std::log10(seconds / 8)));
        for (const double m : {1.0, 2.0, 5.0, 10.0})
            if (seconds / (step * m) <= 10) {
                step *= m;
                break;
            }
        for (double t = 0; t <= seconds + 1e-9; t += step) {
            const double px = left + t / seconds * plot_w;
            if (grid)
                out_ += "<line class=\"grid\" x1=\"" + fmt("%.1f", px) + "\" x2=\"" + fmt("%.1f", px) + "\" y1=\"" + fmt("%.0f", label_y - 10) +
                        "\" y2=\"" + fmt("%.0f", grid_bottom) + "\"/>";
            out_ += "<text class=\"tick\" x=\"" + fmt("%.1f", px) + "\" y=\"" + fmt("%.0f", grid ? label_y - 12 : label_y) + "\">" +
                    (step >= 1 ? fmt("%.0f s", t) : step >= 0.01 ? fmt("%.2f s", t) : fmt("%.4f s", t)) + "</text>\n";
        }
    }

    const UnitFigures* unit_figures(const std::string& name) const {
        for (const auto& u : r_.units)
            if (u.name == name) return &u;
        return nullptr;
    }

    static std::string clip(const std::string& text, std::size_t most) {
        return text.size() <= most ? text : text.substr(0, most - 3) + "...";
    }

    static std::string unit_line(const std::string& state, const UnitFigures* f) {
        if (!f) return "not in this run";
        std::string line = state_words(state);
        const auto ok = f->partitions.find(TraceStatus::ok);
        if (ok != f->partitions.end() && ok->second > 0) line += ", " + count(ok->second) + " done";
        const auto failed = f->partitions.find(TraceStatus::failed);
        if (failed != f->partitions.end() && failed->second > 0) line += ", " + count(failed->second) + " failed";
        if (f->busy_us > 0) line += ", " + duration(f->busy_us);
        return line;
    }

    const RunReport& r_;
    const Pipeline& pipeline_;
    std::map<std::string, std::string> states_;
    std::string out_;
};

constexpr const char* style = R"(body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ddd}code{font-size:13px}
.badge{font-size:13px;padding:2px 8px;border-radius:10px;color:#fff;vertical-align:middle}
.badge.ok{background:#2e7d32}.badge.failed{background:#c62828}.badge.stopped{background:#6d6d6d}
table{border-collapse:collapse}.facts tr{display:block}.facts th{display:inline-block;min-width:12em;text-align:left;padding:2px 12px 2px 0;font-weight:600}.facts td{display:inline-block;padding:2px 14px 2px 0}
.grid th,.grid td{border:1px solid #ddd;padding:3px 6px;text-align:right}.grid th{background:#f5f5f5}
.grid td:first-child,.grid td.message{text-align:left}.note{color:#666;font-size:13px}
svg text{font-size:11px;fill:#333}.lane{text-anchor:end}.tick{text-anchor:middle;fill:#777}.grid{stroke:#eee}
.graph .unit rect{stroke:#555;stroke-width:1}.graph .name{font-weight:600;font-size:12px}.edge{fill:none;stroke:#555}
.unit.ran rect{fill:#c8e6c9}.unit.failed rect{fill:#ffcdd2}.unit.uptodate rect{fill:#e3f2fd}.unit.skipped rect{fill:#eee}
td.failed,td.s-failed{color:#c62828}td.ran{color:#2e7d32}
rect.s-ok{fill:#66bb6a}rect.s-failed{fill:#e53935}rect.s-skipped{fill:#bdbdbd}rect.s-uptodate{fill:#90caf9}rect.s-retracted{fill:#ffb74d}
rect.bar.framed{fill-opacity:.35}rect.part{stroke:#fff;stroke-width:.4}.area{fill:#90caf9;stroke:#1e88e5}
)";

}  // namespace

std::string report_html(const RunReport& report, const Pipeline& pipeline, const std::string& pipeline_file) {
    Page page(report, pipeline);
    page.summary(pipeline_file);
    page.graph();
    page.timeline();
    page.concurrency();
    page.units();
    page.reasons();
    page.slowest();
    page.failures();
    return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>steppar run " + esc(report.run) +
           "</title>\n<meta name=\"generator\" content=\"steppar-host report\">\n<style>" + style + "</style></head>\n<body>\n" +
           page.take() + "</body></html>\n";
}

std::string report_text(const RunReport& r) {
    std::string out = "run " + r.run + ": " + r.outcome() + ", " + duration(r.end_us - r.start_us) + " from " + utc_text(r.start_us) + "\n";
    out += "trace: " + r.trace.string() + "\n";
    out += "partitions:";
    for (const auto s : all_statuses) out += " " + count(r.partitions_with(s)) + " " + to_string(s) + (s == TraceStatus::retracted ? "" : ",");
    out += "\nconcurrency: peak " + std::to_string(r.peak_concurrency) + ", mean " + fmt("%.2f", r.mean_concurrency) + "\n";
    for (const auto& u : r.units) {
        const auto ok = u.partitions.find(TraceStatus::ok);
        out += "unit\t" + u.name + "\t" + count(ok == u.partitions.end() ? 0 : ok->second) + " ok\t" + count(u.attempts) + (u.attempts == 1 ? " attempt\t" : " attempts\t") +
               duration(u.busy_us) + " process time\tpeak " + bytes_text(static_cast<unsigned long long>(u.max_rss_kib) * 1024);
        if (u.slices > 0) out += "\tslowest slice " + duration(u.slice_longest_us) + ", median " + duration(u.slice_median_us);
        out += "\n";
    }
    for (const auto& g : r.reasons)
        out += std::string(to_string(g.status)) + "\t" + g.unit + "\t" + count(g.count) + (g.scope == TraceScope::step ? " steps" : " partitions") +
               "\t" + (g.message.empty() ? "-" : g.message) + "\t" + join_first(g.examples, g.examples.size()) + "\n";
    for (std::size_t i = 0; i < std::min<std::size_t>(r.slowest.size(), 5); ++i)
        out += "slow\t" + r.slowest[i].partition + "\t" + r.slowest[i].step + "\t" + duration(r.slowest[i].wall_us) + "\n";
    for (const auto& f : r.failures)
        out += "failed\t" + f.step + (f.partition.empty() ? "" : "\t" + f.partition) + "\tattempt " + std::to_string(f.attempt) + "\t" + f.message + "\n";
    if (static_cast<long long>(r.failures.size()) < r.failed_rows)
        out += "failed\t... " + count(r.failed_rows - static_cast<long long>(r.failures.size())) + " more\n";
    return out;
}

}  // namespace steppar::cli
