// Commands that look at a pipeline without running it (validate, plan, graph, status), clean, and --param.
#include "harness.hpp"
#include "preconditions.hpp"

#include <boost/test/unit_test.hpp>
#include <yaml-cpp/yaml.h>

#include <fcntl.h>
#include <map>
#include <sys/file.h>
#include <unistd.h>

using namespace e2e;

namespace {

// `count` slices the documents; `again` slices count's output, which exists only after a run.
const char* two_stage = R"(plugins:
  builtin: steppar_builtin
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  lower:  {type: partitioned, path: out/lower, suffix: .txt}
  hashes: {type: partitioned, path: out/hashes, suffix: .sha256}
nodes:
  - {name: lowercase, func: builtin.lowercase, inputs: [docs], outputs: [lower], slices: 3}
  - {name: hash, func: builtin.sha256, inputs: [lower], outputs: [hashes], slices: 2}
)";

}  // namespace

BOOST_AUTO_TEST_SUITE(inspect)

BOOST_AUTO_TEST_CASE(validate_accepts_a_good_pipeline_and_names_the_problem_in_a_bad_one) {
    Workspace ws(two_stage);
    write_file(ws.dir / "docs/a.txt", "A");
    const Result ok = host({"validate", ws.pipeline.string()});
    BOOST_TEST(ok.exit_code == 0, ok.err);
    BOOST_TEST(ok.out.find("valid (2 node(s) in 2 unit(s), 9 steps)") != std::string::npos, ok.out);
    BOOST_TEST(!fs::exists(ws.dir / ".steppar"), "validate must write nothing");

    Workspace bad(std::string(two_stage).replace(std::string(two_stage).find("builtin.sha256"), 14, "builtin.sha265"));
    write_file(bad.dir / "docs/a.txt", "A");
    const Result wrong = host({"validate", bad.pipeline.string()});
    BOOST_TEST(wrong.exit_code == 2);
    BOOST_TEST(wrong.err.find("sha265") != std::string::npos, wrong.err);
    BOOST_TEST(wrong.err.find("did you mean 'sha256'") != std::string::npos, wrong.err);
}

BOOST_AUTO_TEST_CASE(plan_shows_each_slices_partitions_without_running_anything) {
    Workspace ws(two_stage);
    for (int i = 0; i < 7; ++i) write_file(ws.dir / ("docs/d" + std::to_string(i) + ".txt"), "Text");
    const Result text = host({"plan", ws.pipeline.string()});
    BOOST_REQUIRE_MESSAGE(text.exit_code == 0, text.err);
    BOOST_TEST(text.out.find("slice\tlowercase-slice-0\t<- lowercase-slicer\t3 partition(s)") != std::string::npos, text.out);
    BOOST_TEST(text.out.find("slice\tlowercase-slice-2\t<- lowercase-slicer\t2 partition(s)") != std::string::npos, text.out);
    // hash reads what lowercase writes: unknown before the first run.
    BOOST_TEST(text.out.find("slicer\thash-slicer\t<- lowercase-barrier\t? partitions") != std::string::npos, text.out);
    BOOST_TEST(!fs::exists(ws.dir / ".steppar"), "plan must write nothing");
    BOOST_TEST(!fs::exists(ws.dir / "out"), "plan must write nothing");

    BOOST_REQUIRE_EQUAL(ws.run({"-q"}).exit_code, 0);
    const Result json = host({"plan", ws.pipeline.string(), "--format", "json"});
    BOOST_REQUIRE_MESSAGE(json.exit_code == 0, json.err);
    const YAML::Node steps = YAML::Load(json.out);  // JSON is YAML
    BOOST_REQUIRE(steps.IsSequence());
    BOOST_TEST(steps.size() == 9u);
    BOOST_TEST(steps[0]["name"].as<std::string>() == "lowercase-slicer");
    BOOST_TEST(steps[0]["partitions"].as<int>() == 0);  // everything is up to date now
    BOOST_TEST(steps[0]["up_to_date"].as<int>() == 7);
    BOOST_TEST(steps[5]["name"].as<std::string>() == "hash-slicer");
    BOOST_TEST(steps[5]["up_to_date"].as<int>() == 7);  // now lowercase's output exists
    BOOST_TEST(steps[6]["name"].as<std::string>() == "hash-slice-0");
    BOOST_TEST(steps[6]["kind"].as<std::string>() == "slice");
    BOOST_TEST(steps[6]["slice"].as<int>() == 0);
    BOOST_TEST(steps[6]["partitions"].as<int>() == 0);
    BOOST_TEST(steps[6]["depends_on"][0].as<std::string>() == "hash-slicer");

    // The dirty set, per slice, before running: one new and one changed partition.
    write_file(ws.dir / "docs/d7.txt", "New");
    write_file(ws.dir / "docs/d2.txt", "Changed text");
    const Result dirty = host({"plan", ws.pipeline.string()});
    BOOST_REQUIRE_MESSAGE(dirty.exit_code == 0, dirty.err);
    BOOST_TEST(dirty.out.find("slicer\tlowercase-slicer\t<- -\t2 partition(s) to run: 1 new, 1 changed, 6 up to date") != std::string::npos, dirty.out);
    BOOST_TEST(dirty.out.find("slice\tlowercase-slice-0\t<- lowercase-slicer\t1 partition(s): d2") != std::string::npos, dirty.out);
    BOOST_TEST(dirty.out.find("slice\tlowercase-slice-1\t<- lowercase-slicer\t1 partition(s): d7") != std::string::npos, dirty.out);
    BOOST_TEST(dirty.out.find("slice\tlowercase-slice-2\t<- lowercase-slicer\t0 partition(s)") != std::string::npos, dirty.out);
    BOOST_TEST(host({"plan", ws.pipeline.string(), "--format", "yaml"}).exit_code == 2);
}

// --param overrides a param of the file for one command, as JSON or as plain text, in the
// forked and in the exec'd children alike; unknown names and malformed values exit 2.
BOOST_AUTO_TEST_CASE(param_overrides_the_file_for_one_run) {
    Workspace ws(R"(plugins:
  builtin: steppar_builtin
catalog:
  docs:  {type: partitioned, path: docs, suffix: .txt}
  words: {type: partitioned, path: out, suffix: .txt}
params:
  min_length: 6
nodes:
  - {name: long, func: builtin.long_words, inputs: [docs, params:min_length], outputs: [words], slices: 2}
)");
    write_file(ws.dir / "docs/a.txt", "tiny words and lengthier ones\n");
    write_file(ws.dir / "docs/b.txt", "abc abcd abcdefg\n");
    BOOST_REQUIRE_EQUAL(ws.run({"-q"}).exit_code, 0);
    BOOST_TEST(read_file(ws.dir / "out/a.txt") == "lengthier\n");
    for (const char* launch : {"fork", "exec"}) {
        const Result r = ws.run({"-q", "--param", "min_length=4", "--launch", launch});
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
        BOOST_TEST(read_file(ws.dir / "out/a.txt") == "tiny\nwords\nlengthier\nones\n", launch);
        BOOST_TEST(read_file(ws.dir / "out/b.txt") == "abcd\nabcdefg\n", launch);
    }
    const Result typo = host({"validate", ws.pipeline.string(), "--param", "min_lenght=3"});
    BOOST_TEST(typo.exit_code == 2);
    BOOST_TEST(typo.err.find("no param 'min_lenght' (did you mean 'min_length'?)") != std::string::npos, typo.err);
    // Plain text becomes a JSON string; the node's typed read reports it.
    const Result text = ws.run({"-q", "--param", "min_length=many"});
    BOOST_TEST(text.exit_code == 1);
    BOOST_TEST(text.err.find("parameter 'min_length' must be an integer, got \"many\"") != std::string::npos, text.err);
    const Result malformed = host({"validate", ws.pipeline.string(), "--param", "min_length"});
    BOOST_TEST(malformed.exit_code == 2);
    BOOST_TEST(malformed.err.find("must be NAME=VALUE") != std::string::npos, malformed.err);
    const Result slurm = ws.run({"--runner", "slurm", "--param", "min_length=4"});
    BOOST_TEST(slurm.exit_code == 2);
    BOOST_TEST(slurm.err.find("--param does not reach cluster jobs") != std::string::npos, slurm.err);
}

// clean removes the state folder and intermediate data, keeps the catalog's datasets, and
// refuses while the pipeline runs.
BOOST_AUTO_TEST_CASE(clean_removes_state_but_never_catalog_data) {
    Workspace ws(R"(plugins:
  builtin: steppar_builtin
catalog:
  docs:    {type: partitioned, path: docs, suffix: .txt}
  digests: {type: partitioned, path: out, suffix: .sha256}
nodes:
  - multipipeline:
      name: chain
      slices: 2
      nodes:
        - {name: lower, func: builtin.lowercase, inputs: [docs], outputs: [lowered]}
        - {name: hash, func: builtin.sha256, inputs: [lowered], outputs: [digests]}
)");
    write_file(ws.dir / "docs/a.txt", "A");
    BOOST_REQUIRE_EQUAL(ws.run({"-q"}).exit_code, 0);
    BOOST_REQUIRE(fs::exists(ws.dir / ".steppar/data/lowered/a.p"));
    {
        // While a run holds the lock, clean refuses.
        const int fd = ::open((ws.dir / ".steppar/lock").c_str(), O_RDWR);
        BOOST_REQUIRE(fd >= 0);
        BOOST_REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
        const Result busy = host({"clean", ws.pipeline.string()});
        BOOST_TEST(busy.exit_code == 2);
        BOOST_TEST(busy.err.find("already running") != std::string::npos, busy.err);
        ::close(fd);
    }
    const Result r = host({"clean", ws.pipeline.string()});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(r.out.find("removed ") != std::string::npos, r.out);
    BOOST_TEST(!fs::exists(ws.dir / ".steppar"));
    BOOST_TEST(fs::exists(ws.dir / "out/a.sha256"), "catalog outputs stay");
    BOOST_TEST(fs::exists(ws.dir / "docs/a.txt"));
    const Result again = host({"clean", ws.pipeline.string()});
    BOOST_TEST(again.exit_code == 0);
    BOOST_TEST(again.out.find("nothing to clean") != std::string::npos, again.out);
    BOOST_REQUIRE_EQUAL(ws.run({"-q"}).exit_code, 0);  // a clean state reruns everything
}

// graph --format mermaid|dot: the expanded steps plus the datasets between units.
BOOST_AUTO_TEST_CASE(graph_draws_steps_and_datasets_as_mermaid_and_dot) {
    Workspace ws(two_stage);
    write_file(ws.dir / "docs/a.txt", "A");
    const Result mermaid = host({"graph", ws.pipeline.string(), "--format", "mermaid"});
    BOOST_REQUIRE_MESSAGE(mermaid.exit_code == 0, mermaid.err);
    BOOST_TEST(mermaid.out.rfind("flowchart LR\n", 0) == 0u, mermaid.out);
    // lowercase-slicer is s0, its barrier s4; docs is d0, lower d1; hash-slicer s5.
    for (const char* line : {"  s0[\"lowercase-slicer\"]\n", "  d0[(\"docs\")]\n", "  s4{{\"lowercase-barrier\"}}\n",
                             "  d0 --> s0\n", "  s0 --> s1\n", "  s4 --> d1\n", "  d1 --> s5\n", "  s8 --> d2\n"})
        BOOST_TEST(mermaid.out.find(line) != std::string::npos, line << " in\n" << mermaid.out);
    const Result dot = host({"graph", ws.pipeline.string(), "--format", "dot"});
    BOOST_REQUIRE_MESSAGE(dot.exit_code == 0, dot.err);
    BOOST_TEST(dot.out.find("  s4 [label=\"lowercase-barrier\", shape=hexagon];") != std::string::npos, dot.out);
    BOOST_TEST(dot.out.find("  d1 -> s5;") != std::string::npos, dot.out);
    // --output writes the same text to a file.
    const fs::path dot_file = ws.dir / "graph.dot";
    BOOST_REQUIRE_EQUAL(host({"graph", ws.pipeline.string(), "--format", "dot", "-o", dot_file.string()}).exit_code, 0);
    BOOST_TEST(read_file(dot_file) == dot.out);
}

// svg and png come from Graphviz's dot (the test suite installs graphviz; Graphviz is optional,
// so without it the test is skipped); without dot on PATH the user is told what to install.
BOOST_AUTO_TEST_CASE(graph_draws_svg_and_png_through_graphviz, *boost::unit_test::precondition(needs("dot"))) {
    Workspace ws(two_stage);
    write_file(ws.dir / "docs/a.txt", "A");
    const Result svg = host({"graph", ws.pipeline.string(), "--format", "svg"});
    BOOST_REQUIRE_MESSAGE(svg.exit_code == 0, svg.err);
    BOOST_TEST(svg.out.find("<svg") != std::string::npos);
    BOOST_TEST(svg.out.find("lowercase&#45;barrier") != std::string::npos);  // dot escapes the dash
    const fs::path png = ws.dir / "pictures/graph.png";
    fs::create_directories(png.parent_path());
    const Result drawn = host({"graph", ws.pipeline.string(), "--format", "png", "--output", png.string()});
    BOOST_REQUIRE_MESSAGE(drawn.exit_code == 0, drawn.err);
    BOOST_TEST(read_file(png).substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
    BOOST_TEST(std::distance(fs::directory_iterator(png.parent_path()), fs::directory_iterator()) == 1, "nothing but the picture is left");

    const Result no_dot = shell("PATH=/nonexistent " + quote(host_program()) + " graph " + quote(ws.pipeline.string()) + " --format svg");
    BOOST_TEST(no_dot.exit_code == 2);
    BOOST_TEST(no_dot.err.find("needs Graphviz's 'dot' on PATH (apt-get install graphviz), or use --format dot") != std::string::npos, no_dot.err);
    const Result typo = host({"graph", ws.pipeline.string(), "--format", "svgz"});
    BOOST_TEST(typo.exit_code == 2);
    BOOST_TEST(typo.err.find("did you mean 'svg'") != std::string::npos, typo.err);
}

// status reads the state folder: done, stale after an input changes, failed with its message,
// not run / waiting before anything ran; and whether a rerun would run each step.
BOOST_AUTO_TEST_CASE(status_says_what_ran_what_changed_and_what_a_rerun_does) {
    Workspace ws(two_stage);
    for (int i = 0; i < 6; ++i) write_file(ws.dir / ("docs/d" + std::to_string(i) + ".txt"), "Text " + std::to_string(i));
    auto status = [&] {
        const Result r = host({"status", ws.pipeline.string(), "--format", "json"});
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
        std::map<std::string, std::pair<std::string, bool>> by_step;  // name -> (state, rerun)
        const YAML::Node all = YAML::Load(r.out);
        for (const auto& step : all["steps"]) by_step[step["name"].as<std::string>()] = {step["state"].as<std::string>(), step["rerun"].as<bool>()};
        for (const auto& unit : all["units"]) by_step["unit " + unit["name"].as<std::string>()] = {unit["state"].as<std::string>(), false};
        return std::make_pair(by_step, all);
    };
    auto [before, before_json] = status();
    BOOST_TEST(before["lowercase-slice-0"].first == "not run");
    BOOST_TEST(before["hash-slice-1"].first == "waiting");
    BOOST_TEST(before["unit lowercase"].first == "stale");
    BOOST_TEST(before_json["units"][0]["new"].as<int>() == 6);
    BOOST_TEST(!fs::exists(ws.dir / ".steppar"), "status must write nothing");

    BOOST_REQUIRE_EQUAL(ws.run({"-q"}).exit_code, 0);
    auto [after, after_json] = status();
    for (const char* step : {"lowercase-slice-0", "lowercase-slice-2", "lowercase-barrier", "hash-slice-1", "unit lowercase", "unit hash"})
        BOOST_TEST(after[step].first == "done", step);
    BOOST_TEST(after["lowercase-slice-0"].second == false, "a done slice is skipped by a rerun");
    BOOST_TEST(after_json["units"][0]["up_to_date"].as<int>() == 6);

    // One changed input: the rerun's plan gives it to slice 0; slice 2 stays done.
    write_file(ws.dir / "docs/d5.txt", "Changed");
    auto [changed, changed_json] = status();
    BOOST_TEST(changed["unit lowercase"].first == "stale");
    BOOST_TEST(changed_json["units"][0]["changed"].as<int>() == 1);
    BOOST_TEST(changed_json["units"][0]["to_run"][0].as<std::string>() == "d5");
    BOOST_TEST(changed["lowercase-slice-0"].first == "stale");
    BOOST_TEST(changed["lowercase-slice-0"].second == true);
    BOOST_TEST(changed["lowercase-slice-2"].first == "done");
    BOOST_TEST(changed["lowercase-slice-2"].second == false);

    // A deleted input is to be retracted; a file steppar did not write is foreign.
    fs::remove(ws.dir / "docs/d0.txt");
    write_file(ws.dir / "out/lower/mine.txt", "put here by hand");
    const Result text = host({"status", ws.pipeline.string()});
    BOOST_TEST(text.out.find("unit:stale\tlowercase\t0 new, 1 changed, 4 up to date, 1 retracted; to run: d5; to retract: d0; 1 foreign file(s), kept: " +
                             (ws.dir / "out/lower/mine.txt").string()) != std::string::npos, text.out);
    BOOST_TEST(text.out.find("stale\tlowercase-slice-0\t") != std::string::npos, text.out);
    BOOST_TEST(text.out.find("done\tlowercase-slice-2\t2 partition(s)\trerun: skipped") != std::string::npos, text.out);

    // A marker edited by hand (here to say "failed") is refused by its seal, and says so.
    const fs::path marker = ws.dir / ".steppar/units/lowercase/markers/slice-1.json";
    std::string failed = read_file(marker);
    const std::string success = "\"status\": \"success\"";
    failed.replace(failed.find(success), success.size(), "\"status\": \"failed\", \"error\": {\"partition\": \"d3\", \"message\": \"disk on fire\"}");
    write_file(marker, failed);
    const Result broken = host({"status", ws.pipeline.string()});
    BOOST_TEST(broken.out.find("failed\tlowercase-slice-1\tmarker '" + marker.string() +
                               "' is damaged (its content does not match its checksum); rerun to make it again\trerun: runs") != std::string::npos,
               broken.out);
}

BOOST_AUTO_TEST_SUITE_END()
