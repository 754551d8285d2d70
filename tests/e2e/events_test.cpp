// What a run reports: --log-format json (parsed event by event), plain timestamped lines for
// cron, the live display's frame, node logging through the SDK, and plugin output attributed
// to its step, with the fork server and with --launch exec.
#include "harness.hpp"

#include <boost/test/unit_test.hpp>
#include <yaml-cpp/yaml.h>

#include <regex>
#include <set>
#include <sstream>

using namespace e2e;

namespace {

// A multinode, a multipipeline whose first node logs and prints, and two whole nodes.
std::string chatty_spec() {
    return "plugins:\n  test: " + fixture("steppar_test_nodes") + R"(
  builtin: steppar_builtin
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  copies: {type: partitioned, path: out/copies, suffix: .txt}
  chat:   {type: partitioned, path: out/chat, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
  total:  {type: file, path: out/total.json}
  n:      {type: file, path: out/n.txt}
params:
  bad: p03
nodes:
  - {name: copy, func: test.fail_on, inputs: [docs, params:bad], outputs: [copies], slices: 3}
  - multipipeline:
      name: talk
      slices: 2
      nodes:
        - {name: chat1, func: test.chatty, inputs: [copies], outputs: [chat]}
        - {name: count, func: builtin.wc, inputs: [chat], outputs: [counts]}
  - {name: total, func: builtin.wc_total, inputs: [counts], outputs: [total]}
  - {name: howmany, func: test.chatty_total, inputs: [copies], outputs: [n]}
)";
}

struct Chatty : Workspace {
    Chatty() : Workspace(chatty_spec()) {
        for (const char* name : {"p01", "p02", "warn1", "p04", "p05"}) write_file(dir / ("docs/" + std::string(name) + ".txt"), std::string(name) + " text\n");
    }
};

std::vector<YAML::Node> json_lines(const std::string& text) {
    std::vector<YAML::Node> events;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        BOOST_TEST_REQUIRE((!line.empty() && line.front() == '{' && line.back() == '}'), "not one JSON object: " + line);
        events.push_back(YAML::Load(line));
    }
    return events;
}

std::vector<YAML::Node> of_kind(const std::vector<YAML::Node>& events, const std::string& kind) {
    std::vector<YAML::Node> out;
    for (const auto& e : events)
        if (e["event"].as<std::string>() == kind) out.push_back(e);
    return out;
}

std::string field(const YAML::Node& e, const char* key) { return e[key] ? e[key].as<std::string>() : std::string(); }

void check_json_run(const std::string& err) {
    const auto events = json_lines(err);
    BOOST_TEST_REQUIRE(!events.empty());
    for (const auto& e : events) BOOST_TEST(std::regex_match(field(e, "time"), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));

    const auto start = of_kind(events, "run_start");
    BOOST_TEST_REQUIRE(start.size() == 1u);
    BOOST_TEST(start[0]["steps"].as<int>() == 11);  // 3 slices + 2, slicers, barriers, 2 nodes
    BOOST_TEST(start[0]["units"].size() == 4u);
    BOOST_TEST(field(start[0]["units"][1], "kind") == "multipipeline");
    BOOST_TEST(start[0]["units"][1]["slices"].as<int>() == 2);

    // Every slice starts and ends once, with its partitions; together they cover all 5.
    std::map<std::string, int> slice_partitions;
    for (const auto& e : of_kind(events, "step_end")) {
        BOOST_TEST(field(e, "status") == "done", field(e, "step"));
        BOOST_TEST(e["seconds"].as<double>() >= 0);
        if (field(e, "kind") == "slice") slice_partitions[field(e, "step")] = e["partitions"].as<int>();
    }
    BOOST_TEST(slice_partitions.size() == 5u);
    int copy_total = 0;
    for (const auto& [step, n] : slice_partitions)
        if (step.rfind("copy-slice-", 0) == 0) copy_total += n;
    BOOST_TEST(copy_total == 5);
    BOOST_TEST(of_kind(events, "step_start").size() == of_kind(events, "step_end").size());
    const auto planned = of_kind(events, "unit_planned");
    BOOST_TEST_REQUIRE(planned.size() == 2u);
    BOOST_TEST(planned[0]["partitions"].as<int>() == 5);

    // Node log lines carry node, partition and step; raw prints are the step's output.
    std::set<std::string> logged, printed;
    bool warned = false, whole_logged = false;
    for (const auto& e : of_kind(events, "log")) {
        if (field(e, "source") == "node" && field(e, "node") == "chat1") {
            BOOST_TEST(field(e, "step").rfind("talk-slice-", 0) == 0);
            if (field(e, "level") == "info") logged.insert(field(e, "partition"));
            if (field(e, "level") == "warning") warned = warned || (field(e, "partition") == "warn1" && field(e, "message") == "suspicious partition\nsecond line");
        }
        if (field(e, "source") == "node" && field(e, "node") == "howmany")
            whole_logged = field(e, "message") == "counted 5 partitions" && field(e, "step") == "howmany" && !e["partition"];
        if (field(e, "source") == "output") printed.insert(field(e, "message"));
    }
    BOOST_TEST(logged.size() == 5u);
    BOOST_TEST(warned, err);
    BOOST_TEST(whole_logged, err);
    BOOST_TEST(printed.count("raw stdout from p04") == 1u);
    BOOST_TEST(printed.count("raw stderr from warn1") == 1u);

    const auto end = of_kind(events, "run_end");
    BOOST_TEST_REQUIRE(end.size() == 1u);
    BOOST_TEST(field(end[0], "status") == "done");
    BOOST_TEST(end[0]["ran"].as<int>() == 7);
    BOOST_TEST(end[0]["exit_code"].as<int>() == 0);
    BOOST_TEST(field(events.back(), "event") == "run_end");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(events)

BOOST_AUTO_TEST_CASE(json_log_has_every_event_of_a_run_with_the_fork_server_and_with_exec) {
    for (const char* launch : {"fork", "exec"}) {
        BOOST_TEST_CONTEXT("--launch " << launch) {
            Chatty ws;
            const Result r = ws.run({"--log-format", "json", "--launch", launch});
            BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
            check_json_run(r.err);
            BOOST_TEST(read_file(ws.dir / "out/n.txt") == "5");
        }
    }
}

BOOST_AUTO_TEST_CASE(json_log_of_a_failure_names_step_partition_and_exit_code) {
    Chatty ws;
    write_file(ws.dir / "docs/p03.txt", "bad\n");
    const Result r = ws.run({"--log-format", "json"});
    BOOST_TEST(r.exit_code == 1);
    const auto events = json_lines(r.err);
    bool slice_failed = false;
    for (const auto& e : of_kind(events, "step_end"))
        if (field(e, "status") == "failed" && field(e, "kind") == "slice")
            slice_failed = field(e, "message").find("partition 'p03'") != std::string::npos &&
                           field(e, "message").find("refusing partition p03") != std::string::npos;
    BOOST_TEST(slice_failed, r.err);
    const auto end = of_kind(events, "run_end");
    BOOST_TEST_REQUIRE(end.size() == 1u);
    BOOST_TEST(field(end[0], "status") == "failed");
    BOOST_TEST(end[0]["exit_code"].as<int>() == 1);
    BOOST_TEST(end[0]["not_run"].as<int>() > 0);
    BOOST_TEST(field(events.back(), "event") == "error");
    BOOST_TEST(events.back()["exit_code"].as<int>() == 1);
    BOOST_TEST(field(events.back(), "message").find("copy-barrier") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(plain_lines_are_timestamped_and_free_of_control_characters) {
    Chatty ws;
    const Result r = ws.run();  // stderr is a pipe: plain is the default
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    std::istringstream in(r.err);
    const std::regex stamped(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} steppar: .*)");
    int lines = 0;
    for (std::string line; std::getline(in, line); ++lines) {
        BOOST_TEST(std::regex_match(line, stamped), line);
        BOOST_TEST(line.find_first_of("\x1b\x1f\r") == std::string::npos, line);
    }
    BOOST_TEST(lines > 10);
    BOOST_TEST(r.err.find("talk-slice-1: node 'chat1', partition 'warn1': warning: suspicious partition\n") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("output: raw stderr from p05\n") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("steppar: howmany: node 'howmany': counted 5 partitions\n") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("copy-slice-0 done: 2 partitions in ") != std::string::npos, r.err);

    // --quiet keeps warnings and drops the rest.
    const Result quiet = ws.run({"--force", "--quiet"});
    BOOST_TEST(quiet.exit_code == 0);
    BOOST_TEST(quiet.err.find("warning: suspicious partition") != std::string::npos, quiet.err);
    BOOST_TEST(quiet.err.find("started") == std::string::npos, quiet.err);
    BOOST_TEST(quiet.err.find("copying") == std::string::npos, quiet.err);
}

BOOST_AUTO_TEST_CASE(live_display_draws_rows_and_keeps_messages_above_them) {
    Chatty ws;
    Result r = ws.run({"--log-format", "live"});  // forced: stderr here is a pipe
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    BOOST_TEST(r.err.find("\x1b[32mdone") != std::string::npos);  // colour, unless NO_COLOR
    r.err = std::regex_replace(r.err, std::regex("\x1b\\[[0-9;]*m"), "");
    BOOST_TEST(r.err.find("\x1b[") != std::string::npos);  // it redraws in place
    BOOST_TEST(r.err.find("done copy (3 slices, 5 partitions)") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("done talk (2 slices, 5 partitions)") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("talk-slice-1: chat1 [warn1]: ") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("howmany: counted 5 partitions") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("pipeline done in ") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("copy-slicer: 5 partitions") == std::string::npos, "engine info lines stay out");

    const Result refused = host({"validate", ws.pipeline.string(), "--log-format", "live"});
    BOOST_TEST(refused.exit_code == 2);
    BOOST_TEST(refused.err.find("--log-format live is for 'run'") != std::string::npos, refused.err);
    const Result unknown = ws.run({"--log-format", "xml"});
    BOOST_TEST(unknown.exit_code == 2);
    BOOST_TEST(unknown.err.find("--log-format must be auto, plain, json or live, got 'xml'") != std::string::npos, unknown.err);
}

// --log-format auto: live on a terminal (script(1) gives the run a pseudo-terminal), plain with
// TERM=dumb, and plain for every command but run. TERM is set for each case: the suite may be
// started with any TERM, or none.
BOOST_AUTO_TEST_CASE(auto_format_is_live_on_a_terminal_only_for_run) {
    Chatty ws;
    const std::string run = quote(host_program()) + " run " + quote(ws.pipeline.string());
    const Result tty = shell("TERM=xterm script -qefc " + quote(run + " --force") + " /dev/null");
    BOOST_TEST_REQUIRE(tty.exit_code == 0, tty.err);
    BOOST_TEST(tty.out.find("\x1b[") != std::string::npos, tty.out);
    BOOST_TEST(tty.out.find("pipeline done") != std::string::npos, tty.out);
    BOOST_TEST(tty.out.find(" steppar: copy-slice-0 started") == std::string::npos, tty.out);

    const Result dumb = shell("TERM=dumb script -qefc " + quote(run + " --force") + " /dev/null");
    BOOST_TEST_REQUIRE(dumb.exit_code == 0, dumb.err);
    BOOST_TEST(dumb.out.find("\x1b[") == std::string::npos, dumb.out);
    BOOST_TEST(dumb.out.find(" steppar: copy-slice-0 started (2 partitions)") != std::string::npos, dumb.out);

    const Result status = shell("TERM=xterm script -qefc " + quote(quote(host_program()) + " plan " + quote(ws.pipeline.string()) + " --param bad=x") + " /dev/null");
    BOOST_TEST(status.exit_code == 0, status.out);
    BOOST_TEST(status.out.find("\x1b[") == std::string::npos, status.out);
}

// A node logging long lines from several threads at once: every line arrives whole.
BOOST_AUTO_TEST_CASE(node_log_lines_from_threads_arrive_whole) {
    Workspace ws("plugins:\n  test: " + fixture("steppar_test_nodes") + R"(
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  copies: {type: partitioned, path: out/copies, suffix: .txt}
nodes:
  - {name: threads, func: test.chatty_threads, inputs: [docs], outputs: [copies], slices: 2}
)");
    for (int i = 0; i < 4; ++i) write_file(ws.dir / ("docs/d" + std::to_string(i) + ".txt"), "x");
    const Result r = ws.run({"--log-format", "json"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err.substr(0, 2000));
    std::map<char, int> lines;
    for (const auto& e : of_kind(json_lines(r.err), "log")) {
        if (field(e, "source") != "node") continue;
        const std::string message = field(e, "message");
        BOOST_TEST_REQUIRE(message.size() == 6000u);
        BOOST_TEST_REQUIRE((message.find_first_not_of(message[0]) == std::string::npos), "a mixed line");
        ++lines[message[0]];
    }
    BOOST_TEST((lines == std::map<char, int>{{'a', 80}, {'b', 80}, {'c', 80}, {'d', 80}}));
}

BOOST_AUTO_TEST_CASE(a_step_that_fails_outside_a_partition_reports_its_own_message) {
    // A plain node whose input folder is a file: run-node fails before any partition; the run
    // names the node and the problem, not just an exit code.
    Chatty ws;
    const Result first = ws.run();
    BOOST_TEST_REQUIRE(first.exit_code == 0, first.err);
    fs::remove_all(ws.dir / "out/copies");
    write_file(ws.dir / "out/copies", "not a folder");
    const Result r = ws.run({"--nodes", "howmany", "--log-format", "json"});
    BOOST_TEST(r.exit_code == 1);
    bool named = false;
    for (const auto& e : of_kind(json_lines(r.err), "step_end"))
        if (field(e, "step") == "howmany" && field(e, "status") == "failed")
            named = field(e, "message").find("howmany failed: ") == 0 && field(e, "message").find("exit code") == std::string::npos;
    BOOST_TEST(named, r.err);
}

// Partition names and what nodes log are shown, never obeyed: a line break in a name cannot
// forge a line of the log, an escape sequence cannot rewrite the terminal (plain log, the
// status table).
BOOST_AUTO_TEST_CASE(control_characters_from_names_and_nodes_are_shown_not_obeyed) {
    Chatty ws;
    const std::string evil = "evil\n2026-01-01 00:00:00.000 steppar: pipeline done: forged\x1b[2J";
    write_file(ws.dir / ("docs/" + evil + ".txt"), "evil text\n");
    const Result r = ws.run({"--log-format", "plain"});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(r.err.find('\x1b') == std::string::npos, r.err);
    BOOST_TEST(r.err.find("\n2026-01-01") == std::string::npos, r.err);  // no line of its own: each has the real time and prefix
    BOOST_TEST(r.err.find("partition 'evil\\n2026-01-01 00:00:00.000 steppar: pipeline done: forged\\e[2J'") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("suspicious partition\n") != std::string::npos, r.err);  // a node's own second line stays a line
    const Result status = host({"status", ws.pipeline.string()});
    BOOST_TEST(status.out.find('\x1b') == std::string::npos, status.out);
}

BOOST_AUTO_TEST_SUITE_END()
