// Partition control through steppar-host: configurators, filter/exclude/--partitions, strict
// zipping, --nodes/--tags, namespaces and max_simultaneous_steps.
#include "harness.hpp"
#include "preconditions.hpp"

#include <boost/test/unit_test.hpp>
#include <yaml-cpp/yaml.h>

#include <sched.h>
#include <sstream>

using namespace e2e;

namespace {

const std::string sales_pipeline = R"(
catalog:
  sales:  {type: partitioned, path: sales, suffix: .csv}
  report: {type: partitioned, path: out/report, suffix: .txt}
params:
  sales_config:
    template:
      pattern: "{region}/{store}"
      hierarchy: [store, region]   # the last counts most: a named region beats a named store
      any: {store: "[0-9]+"}
    configurators:
      - {name: default, target: ["*", "*"], data: {rate: 1}}
      - {name: north, target: [north, "*"], data: {rate: 2}}
      - {name: store7, target: {region: "*", store: "7"}, data: {rate: 3}}
      - {name: closed, target: [east, "*"], cached: true}
nodes:
  - {name: report, func: test.configured, inputs: [sales], outputs: [report], slices: 2, configurator: "params:sales_config"}
)";

fs::path write_sales(const TempDir& dir, const std::string& spec) {
    for (const char* p : {"north/1", "north/7", "south/7", "south/2", "east/1", "east/7", "west/x"})
        write_file(dir / (std::string("sales/") + p + ".csv"), "1,2\n");
    const fs::path pipeline = dir / "pipeline.yml";
    write_file(pipeline, "plugins:\n  test: " + fixture("steppar_test_nodes") + "\n  builtin: steppar_builtin\n" + spec);
    return pipeline;
}

// builtin.wc over docs/*.txt into out/counts as a multinode with `keys` (slices and the rest).
std::string count_pipeline(const std::string& keys) {
    return "plugins: {builtin: steppar_builtin}\ncatalog:\n  docs:   {type: partitioned, path: docs, suffix: .txt}\n"
           "  counts: {type: partitioned, path: out/counts, suffix: .json}\nnodes:\n"
           "  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], " + keys + "}\n";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(partition_control)

BOOST_AUTO_TEST_CASE(configurator_data_reaches_each_partition_and_cached_ones_are_not_run) {
    TempDir dir;
    const fs::path pipeline = write_sales(dir, sales_pipeline);
    const Result r = host({"run", pipeline.string()});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(read_file(dir / "out/report/north/1.txt") == "north/1 north {\"rate\":2} rate=2\n");
    BOOST_TEST(read_file(dir / "out/report/north/7.txt") == "north/7 north {\"rate\":2} rate=2\n");  // region beats store
    BOOST_TEST(read_file(dir / "out/report/south/7.txt") == "south/7 store7 {\"rate\":3} rate=3\n");
    BOOST_TEST(read_file(dir / "out/report/south/2.txt") == "south/2 default {\"rate\":1} rate=1\n");
    BOOST_TEST(read_file(dir / "out/report/west/x.txt") == "west/x - -\n");  // 'x' is not a store number
    BOOST_TEST(!fs::exists(dir / "out/report/east"), "cached partitions must not run");
    BOOST_TEST(r.err.find("2 cached partition(s) left out") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("warning: 'report': 1 partition(s) match no configurator") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("configurator 'north' for") != std::string::npos, r.err);
    BOOST_TEST(read_file(dir / ".steppar/units/report/slices.json").find("\"partition_count\": 5") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(ambiguous_configurators_are_rejected_before_anything_runs) {
    TempDir dir;
    std::string spec = sales_pipeline;
    const std::string store7 = R"({name: store7, target: {region: "*", store: "7"}, data: {rate: 3}})";
    spec.replace(spec.find(store7), store7.size(), R"({name: north2, target: {region: north, store: "*"}, data: {rate: 3}})");
    const fs::path pipeline = write_sales(dir, spec);
    const Result r = host({"run", pipeline.string()});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("configurators 'north' and 'north2' have the same target") != std::string::npos, r.err);
    BOOST_TEST(!fs::exists(dir / "out"));

    // Targets are regular expressions, so whether two can match the same partition is known only
    // per partition: the slicer refuses the first partition both match, before anything runs.
    spec = sales_pipeline;
    spec.replace(spec.find(store7), store7.size(), R"({name: north-or-south, target: ["north|south", "*"], data: {rate: 3}})");
    const Result tie = host({"run", write_sales(dir, spec).string()});
    BOOST_TEST(tie.exit_code == 2);
    BOOST_TEST(tie.err.find("partition 'north/1' is matched by configurators 'north' and 'north-or-south', which are equally specific") !=
                   std::string::npos,
               tie.err);
    BOOST_TEST(snapshot(dir / "out").empty());
}

BOOST_AUTO_TEST_CASE(filter_exclude_and_partitions_option_narrow_the_slices) {
    TempDir dir;
    const fs::path pipeline = write_sales(dir, R"(
catalog:
  sales:  {type: partitioned, path: sales, suffix: .csv}
  counts: {type: partitioned, path: out/counts, suffix: .json}
nodes:
  - {name: count, func: builtin.wc, inputs: [sales], outputs: [counts], slices: 2, filter: ["^north/", "^south/"], exclude: "/7$"}
)");
    const Result r = host({"run", pipeline.string()});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    auto out = snapshot(dir / "out/counts");
    BOOST_TEST(out.size() == 2u);
    BOOST_TEST(out.count("north/1.json") == 1u);
    BOOST_TEST(out.count("south/2.json") == 1u);
    BOOST_TEST(r.err.find("5 of 7 partition(s) left out by filter/exclude/date_range/--partitions") != std::string::npos, r.err);
    fs::remove_all(dir / "out");
    const Result narrowed = host({"run", pipeline.string(), "--partitions", "^south"});
    BOOST_REQUIRE_MESSAGE(narrowed.exit_code == 0, narrowed.err);
    out = snapshot(dir / "out/counts");
    BOOST_TEST(out.size() == 1u);
    BOOST_TEST(out.count("south/2.json") == 1u);
}

// date_range, like kedro-partitioned's date_range_filter: only names holding a date in range
// (both ends inclusive) are sliced; exclude is applied first; an impossible date is exit 2.
BOOST_AUTO_TEST_CASE(date_range_keeps_partitions_whose_date_is_in_range) {
    TempDir dir;
    for (const char* p : {"p1/2020-01-01/s", "p1/2020-02-03/s", "p2/2020-05-03/s", "p2/2020-02-02/s", "p3/latest", "p3/2021-02-30"})
        write_file(dir / (std::string("docs/") + p + ".txt"), "x\n");
    const fs::path pipeline = dir / "pipeline.yml";
    write_file(pipeline, count_pipeline(R"(slices: 2, exclude: "^p3/2021", date_range: {min: "2020-02-02", max: "2020-05-03"})"));
    const Result r = host({"run", pipeline.string()});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    const auto out = snapshot(dir / "out/counts");
    BOOST_TEST(out.size() == 3u);
    for (const char* kept : {"p1/2020-02-03/s.json", "p2/2020-05-03/s.json", "p2/2020-02-02/s.json"}) BOOST_TEST(out.count(kept) == 1u, kept);
    BOOST_TEST(r.err.find("3 of 6 partition(s) left out by filter/exclude/date_range/--partitions") != std::string::npos, r.err);

    std::string text = read_file(pipeline);
    text.replace(text.find(R"(, exclude: "^p3/2021")"), 21, "");
    write_file(pipeline, text);
    const Result impossible = host({"run", pipeline.string()});
    BOOST_TEST(impossible.exit_code == 2);
    BOOST_TEST(impossible.err.find("partition 'p3/2021-02-30': '2021-02-30' fits the date_range format '%Y-%m-%d' but is not a calendar date") !=
                   std::string::npos,
               impossible.err);
    text.replace(text.find(R"(max: "2020-05-03")"), 17, R"(max: "2020-05-33")");
    write_file(pipeline, text);
    const Result bad = host({"validate", pipeline.string()});
    BOOST_TEST(bad.exit_code == 2);
    BOOST_TEST(bad.err.find("pipeline.yml:6: 'count': date_range max '2020-05-33' is not a date of format '%Y-%m-%d'") != std::string::npos, bad.err);
}

// balance: size gives the giant partitions slices of their own; count cuts by position.
BOOST_AUTO_TEST_CASE(balance_size_spreads_bytes_and_count_spreads_partitions) {
    TempDir dir;
    write_file(dir / "docs/a.txt", std::string(40000, 'x'));
    write_file(dir / "docs/b.txt", std::string(30000, 'y'));
    for (int i = 0; i < 8; ++i) write_file(dir / ("docs/s" + std::to_string(i) + ".txt"), std::string(1000, 'z'));
    for (const char* balance : {"size", "count"}) {
        fs::remove_all(dir / ".steppar");  // two pipeline files: each starts with a state folder of its own
        const fs::path pipeline = dir / (std::string(balance) + ".yml");
        write_file(pipeline, std::string("plugins:\n  builtin: steppar_builtin\ncatalog:\n  docs: {type: partitioned, path: docs, suffix: .txt}\n"
                                         "  counts: {type: partitioned, path: out-") + balance +
                                 ", suffix: .json}\nnodes:\n  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 3, balance: " +
                                 balance + "}\n");
        const Result r = host({"run", pipeline.string()});
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
        BOOST_TEST(snapshot(dir / (std::string("out-") + balance)).size() == 10u);
        auto slice = [&](int i) {  // the partitions of one slice's part of the plan (JSON is YAML)
            const auto part = dir / (".steppar/units/count/slices/slice-" + std::to_string(i) + ".json");
            return YAML::LoadFile(part.string())["partitions"].as<std::vector<std::string>>();
        };
        using names = std::vector<std::string>;
        if (std::string(balance) == "size") {
            BOOST_TEST(r.err.find("balanced by size, 7.8 KiB..39.1 KiB of input per slice") != std::string::npos, r.err);
            BOOST_TEST((slice(0) == names{"a"}));
            BOOST_TEST((slice(1) == names{"b"}));
            BOOST_TEST((slice(2) == names{"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"}));
        } else {
            BOOST_TEST((slice(0) == names{"a", "b", "s0", "s1"}));  // 4, 3, 3 by position
            BOOST_TEST((slice(2) == names{"s5", "s6", "s7"}));
        }
    }
    const fs::path plain = dir / "plain.yml";
    write_file(plain, "plugins:\n  builtin: steppar_builtin\ncatalog:\n  docs: {type: partitioned, path: docs, suffix: .txt}\n"
                      "  counts: {type: partitioned, path: out, suffix: .json}\nnodes:\n  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], balance: weight}\n");
    const Result bad = host({"run", plain.string()});
    BOOST_TEST(bad.exit_code == 2);
    BOOST_TEST(bad.err.find("plain.yml:7:") != std::string::npos, bad.err);
    BOOST_TEST(bad.err.find("balance must be 'count'") != std::string::npos, bad.err);
}

BOOST_AUTO_TEST_CASE(strict_zipping_names_the_partitions_without_partner) {
    TempDir dir;
    write_file(dir / "left/a.txt", "a\n");
    write_file(dir / "left/b.txt", "b\n");
    write_file(dir / "right/a.txt", "A\n");
    const std::string spec = "plugins: {test: " + fixture("steppar_test_nodes") + R"(}
catalog:
  left:   {type: partitioned, path: left, suffix: .txt}
  right:  {type: partitioned, path: right, suffix: .txt}
  joined: {type: partitioned, path: out/joined, suffix: .txt}
nodes:
  - {name: join, func: test.concat, inputs: [left, right], outputs: [joined], slices: 2, strict: STRICT}
)";
    std::string lenient = spec, strict = spec;
    lenient.replace(lenient.find("STRICT"), 6, "false");
    strict.replace(strict.find("STRICT"), 6, "true");
    write_file(dir / "lenient.yml", lenient);
    write_file(dir / "strict.yml", strict);
    const Result ok = host({"run", (dir / "lenient.yml").string()});
    BOOST_TEST(ok.exit_code == 0, ok.err);
    BOOST_TEST(ok.err.find("1 partition(s) of 'left' left out: no partner of the same name in every other input (b)") != std::string::npos, ok.err);
    const Result refused = host({"run", (dir / "strict.yml").string(), "--state-dir", (dir / "st").string()});
    BOOST_TEST(refused.exit_code == 2);
    BOOST_TEST(refused.err.find("strict.yml:7: 'join' (strict): 1 partition(s) of 'left' left out") != std::string::npos, refused.err);
}

BOOST_AUTO_TEST_CASE(nodes_and_tags_select_what_runs) {
    TempDir dir;
    for (int i = 0; i < 6; ++i) write_file(dir / ("docs/d" + std::to_string(i) + ".txt"), "w " + std::to_string(i) + "\n");
    write_file(dir / "p.yml", R"(plugins: {builtin: steppar_builtin}
catalog:
  docs:    {type: partitioned, path: docs, suffix: .txt}
  counts:  {type: partitioned, path: out/counts, suffix: .json}
  digests: {type: partitioned, path: out/digests, suffix: .sha256}
  total:   {type: file, path: out/total.json}
nodes:
  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 3, tags: [nightly]}
  - {name: total, func: builtin.wc_total, inputs: [counts], outputs: [total]}
  - {name: hash, func: builtin.sha256, inputs: [docs], outputs: [digests], slices: 2}
)");
    const Result graph = host({"graph", (dir / "p.yml").string()});
    BOOST_TEST(graph.out.find("slice\tcount-slice-2\t<- count-slicer\t[count,nightly]") != std::string::npos, graph.out);
    const Result tagged = host({"run", (dir / "p.yml").string(), "--tags", "nightly"});
    BOOST_REQUIRE_MESSAGE(tagged.exit_code == 0, tagged.err);
    BOOST_TEST(snapshot(dir / "out/counts").size() == 6u);
    BOOST_TEST(!fs::exists(dir / "out/digests"));
    BOOST_TEST(!fs::exists(dir / "out/total.json"));
    const Result one = host({"run", (dir / "p.yml").string(), "--nodes", "hash-slice-1,total"});
    BOOST_REQUIRE_MESSAGE(one.exit_code == 0, one.err);
    BOOST_TEST(snapshot(dir / "out/digests").size() == 3u);  // slice 1 of 2 over 6 partitions
    BOOST_TEST(fs::exists(dir / "out/total.json"));
    BOOST_TEST(one.err.find("hash-barrier") == std::string::npos, "a lone slice runs without its barrier: " << one.err);
    const Result typo = host({"run", (dir / "p.yml").string(), "--tags", "nighty"});
    BOOST_TEST(typo.exit_code == 2);
    BOOST_TEST(typo.err.find("did you mean 'nightly'") != std::string::npos, typo.err);
}

// --from-nodes takes a unit and everything downstream, --to-nodes a unit and everything it
// needs; both together, the units between.
BOOST_AUTO_TEST_CASE(from_nodes_and_to_nodes_select_a_stretch_of_the_graph) {
    TempDir dir;
    for (int i = 0; i < 4; ++i) write_file(dir / ("docs/d" + std::to_string(i) + ".txt"), "Some Text " + std::to_string(i) + "\n");
    write_file(dir / "p.yml", R"(plugins: {builtin: steppar_builtin}
catalog:
  docs:    {type: partitioned, path: docs, suffix: .txt}
  lower:   {type: partitioned, path: out/lower, suffix: .txt}
  counts:  {type: partitioned, path: out/counts, suffix: .json}
  total:   {type: file, path: out/total.json}
  digests: {type: partitioned, path: out/digests, suffix: .sha256}
nodes:
  - {name: lowercase, func: builtin.lowercase, inputs: [docs], outputs: [lower], slices: 2}
  - {name: count, func: builtin.wc, inputs: [lower], outputs: [counts], slices: 2}
  - {name: total, func: builtin.wc_total, inputs: [counts], outputs: [total]}
  - {name: hash, func: builtin.sha256, inputs: [docs], outputs: [digests], slices: 2}
)");
    const std::string p = (dir / "p.yml").string();
    auto ran = [&] {
        std::vector<std::string> made;
        for (const char* out : {"out/lower", "out/counts", "out/total.json", "out/digests"})
            if (fs::exists(dir / out)) made.push_back(out);
        fs::remove_all(dir / "out");
        fs::remove_all(dir / ".steppar");
        return made;
    };
    using made = std::vector<std::string>;
    BOOST_REQUIRE_EQUAL(host({"run", p, "--to-nodes", "count"}).exit_code, 0);
    BOOST_TEST((ran() == made{"out/lower", "out/counts"}));
    BOOST_REQUIRE_EQUAL(host({"run", p, "--to-nodes", "count", "-q"}).exit_code, 0);  // leaves lower for the next run
    fs::remove_all(dir / "out/counts");
    BOOST_REQUIRE_EQUAL(host({"run", p, "--from-nodes", "count"}).exit_code, 0);
    BOOST_TEST((ran() == made{"out/lower", "out/counts", "out/total.json"}));  // lower was kept, not rerun
    BOOST_REQUIRE_EQUAL(host({"run", p, "--from-nodes", "lowercase", "--to-nodes", "count"}).exit_code, 0);
    BOOST_TEST((ran() == made{"out/lower", "out/counts"}));
    const Result typo = host({"run", p, "--from-nodes", "totl"});
    BOOST_TEST(typo.exit_code == 2);
    BOOST_TEST(typo.err.find("--from-nodes: no node or multinode named 'totl' (did you mean 'total'?)") != std::string::npos, typo.err);
    const Result slurm = host({"run", p, "--runner", "slurm", "--to-nodes", "count"});
    BOOST_TEST(slurm.exit_code == 2);
    BOOST_TEST(slurm.err.find("--runner slurm runs the whole pipeline") != std::string::npos, slurm.err);
}

BOOST_AUTO_TEST_CASE(namespaced_multipipeline_twice_and_max_simultaneous_steps) {
    TempDir dir;
    for (int i = 0; i < 9; ++i) write_file(dir / ("docs/d" + std::to_string(i) + ".txt"), "Some TEXT " + std::to_string(i) + "\n");
    write_file(dir / "p.yml", R"(plugins: {builtin: steppar_builtin}
catalog:
  docs: {type: partitioned, path: docs, suffix: .txt}
  a_out: {type: partitioned, path: out/a, suffix: .sha}
  b_out: {type: partitioned, path: out/b, suffix: .sha}
nodes:
  - multipipeline:
      name: clean
      namespace: a
      max_simultaneous_steps: 5
      nodes:
        - {name: lower, func: builtin.lowercase, inputs: [docs], outputs: [lowered]}
        - {name: hash, func: builtin.sha256, inputs: [lowered], outputs: [a_out]}
  - multipipeline:
      name: clean
      namespace: b
      slices: 2
      nodes:
        - {name: lower, func: builtin.lowercase, inputs: [docs], outputs: [lowered]}
        - {name: hash, func: builtin.sha256, inputs: [lowered], outputs: [b_out]}
)");
    const Result r = host({"run", (dir / "p.yml").string()});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(r.err.find("a.clean-slicer: 9 partition(s) of docs to run in 5 slices") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("b.clean-slicer: 9 partition(s) of docs to run in 2 slices") != std::string::npos, r.err);
    BOOST_TEST(fs::exists(dir / ".steppar/data/a.lowered/d3.p"));
    BOOST_TEST(fs::exists(dir / ".steppar/data/b.lowered/d3.p"));
    BOOST_TEST((snapshot(dir / "out/a") == snapshot(dir / "out/b")));
}

// The slice cut is kedro-partitioned's: slice i of k owns the sorted partitions from
// ceil(n * i / k) up to ceil(n * (i + 1) / k), so slice numbers mean the same partitions there
// and here. Checked on every (n, k) in 1..12 x 1..5 through the real slicer's plan files.
BOOST_AUTO_TEST_CASE(slices_hold_the_partitions_kedro_partitioned_gives_them) {
    TempDir dir;
    const fs::path pipeline = dir / "pipeline.yml";
    auto ceil_div = [](int a, int b) { return (a + b - 1) / b; };
    for (int n = 1; n <= 12; ++n) {
        write_file(dir / ("docs/p" + std::string(n <= 10 ? "0" : "") + std::to_string(n - 1) + ".txt"), "x\n");
        for (int k = 1; k <= 5; ++k) {
            write_file(pipeline, count_pipeline("slices: " + std::to_string(k)));
            const Result r = host({"run-slicer", pipeline.string(), "--node", "count", "--force"});
            BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
            for (int i = 0; i < k; ++i) {
                const YAML::Node part = YAML::LoadFile((dir / (".steppar/units/count/slices/slice-" + std::to_string(i) + ".json")).string());
                std::vector<std::string> expected;
                for (int p = ceil_div(n * i, k); p < ceil_div(n * (i + 1), k); ++p)
                    expected.push_back("p" + std::string(p < 10 ? "0" : "") + std::to_string(p));
                BOOST_TEST((part["partitions"].as<std::vector<std::string>>() == expected), "n=" << n << " k=" << k << " slice " << i);
            }
        }
    }
}

// `slices: auto` is machines x workers, as kedro-partitioned's default n_slices: STEPPAR_NODES x
// STEPPAR_WORKERS, else its MAX_NODES x MAX_WORKERS, else the cores this process may use.
BOOST_AUTO_TEST_CASE(auto_slices_come_from_the_environment) {
    TempDir dir;
    const fs::path pipeline = dir / "pipeline.yml";
    write_file(pipeline, count_pipeline("slices: auto"));
    fs::create_directories(dir / "docs");
    auto slices_with = [&](const std::string& env) {
        const Result r = shell("env -u STEPPAR_NODES -u STEPPAR_WORKERS -u MAX_NODES -u MAX_WORKERS " + env + " " + quote(host_program()) +
                               " graph " + quote(pipeline.string()));
        if (r.exit_code != 0) return r.err;
        std::size_t n = 0;
        for (std::size_t at = r.out.find("slice\tcount-slice-"); at != std::string::npos; at = r.out.find("slice\tcount-slice-", at + 1)) ++n;
        return std::to_string(n);
    };
    // nproc counts the affinity mask, not a cgroup quota, which may lower the count further
    // (the exact count under taskset is tested below).
    const std::string usable = slices_with("");
    const int nproc = std::stoi(shell("env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc").out);
    BOOST_TEST((usable.find_first_not_of("0123456789") == std::string::npos && std::stoi(usable) >= 1 && std::stoi(usable) <= nproc),
               usable << " slices, nproc " << nproc);
    BOOST_TEST(slices_with("STEPPAR_NODES=2 STEPPAR_WORKERS=3") == "6");
    BOOST_TEST(slices_with("MAX_NODES=3 MAX_WORKERS=1") == "3");
    BOOST_TEST(slices_with("STEPPAR_WORKERS=5 MAX_WORKERS=1") == "5");
    BOOST_TEST(slices_with("STEPPAR_WORKERS=lots").find("STEPPAR_WORKERS must be a whole number from 1") != std::string::npos);
    BOOST_TEST(slices_with("STEPPAR_NODES=200 STEPPAR_WORKERS=100").find("lower STEPPAR_NODES or STEPPAR_WORKERS") != std::string::npos);
}

// Under taskset (as under Slurm's --cpus-per-task or a container's cpuset) steppar sees one core:
// `slices: auto` and the default --max-workers are 1, not the machine's count.
BOOST_AUTO_TEST_CASE(auto_slices_and_default_workers_follow_cpu_affinity, *boost::unit_test::precondition(needs("taskset"))) {
    // The first CPU this test may use (0 unless the test itself runs under a narrower mask).
    int cpu = 0;
    if (cpu_set_t set; ::sched_getaffinity(0, sizeof set, &set) == 0)
        while (cpu < CPU_SETSIZE - 1 && !CPU_ISSET(cpu, &set)) ++cpu;
    Workspace ws(count_pipeline("slices: auto"));
    for (const char* name : {"a", "b", "c"}) write_file(ws.dir / ("docs/" + std::string(name) + ".txt"), "one two\n");
    auto pinned = [&](const std::string& env) {
        return "env -u STEPPAR_NODES -u STEPPAR_WORKERS -u MAX_NODES -u MAX_WORKERS " + env + " taskset -c " + std::to_string(cpu) + " " +
               quote(host_program()) + " ";
    };
    const std::string pipeline = quote(ws.pipeline.string());

    const Result validated = shell(pinned("") + "validate " + pipeline);
    BOOST_TEST_REQUIRE(validated.exit_code == 0, validated.err);
    BOOST_TEST(validated.out.find("(1 node(s) in 1 unit(s), 3 steps)") != std::string::npos, validated.out);  // slicer, 1 slice, barrier
    const Result graph = shell(pinned("") + "graph " + pipeline);
    BOOST_TEST(graph.out.find("slice\tcount-slice-0") != std::string::npos, graph.out);
    BOOST_TEST(graph.out.find("slice\tcount-slice-1") == std::string::npos, graph.out);

    auto run_start = [&](const std::string& extra) {
        const Result r = shell(pinned("") + "run " + pipeline + " --force --log-format json " + extra);
        BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
        std::istringstream lines(r.err);
        for (std::string line; std::getline(lines, line);)
            if (line.find("\"event\":\"run_start\"") != std::string::npos) return YAML::Load(line);
        BOOST_FAIL("no run_start event in: " + r.err);
        return YAML::Node();
    };
    const YAML::Node start = run_start("");
    BOOST_TEST(start["workers"].as<int>() == 1);
    BOOST_TEST(start["units"][0]["slices"].as<int>() == 1);
    BOOST_TEST(snapshot(ws.dir / "out/counts").size() == 3u);
    // What is asked for wins over what is detected.
    BOOST_TEST(run_start("-j 3")["workers"].as<int>() == 3);
    const Result told = shell(pinned("STEPPAR_WORKERS=4") + "graph " + pipeline);
    BOOST_TEST(told.out.find("slice\tcount-slice-3") != std::string::npos, told.out);
}

BOOST_AUTO_TEST_SUITE_END()
