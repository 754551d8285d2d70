// Why a partition runs, and why an output is what it is: every reason code is provoked once,
// and `plan`, `run` and `why` must name exactly the change that was made. After each change the
// run's outputs equal a clean sequential run.
#include "harness.hpp"

#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <map>

#include <sys/stat.h>
#include <fcntl.h>

using namespace e2e;

namespace {

// count (wc) -> digest (sha256 of each count: reads what count makes) ; long (a param) ; total.
std::string why_pipeline(int min_length = 5, const std::string& long_function = "long_words", const std::string& long_suffix = ".txt") {
    return R"(plugins: {builtin: ./builtin.so}
catalog:
  docs:    {type: partitioned, path: data/docs, suffix: .txt}
  counts:  {type: partitioned, path: out/counts, suffix: .json}
  digests: {type: partitioned, path: out/digests, suffix: .sha256}
  long:    {type: partitioned, path: out/long, suffix: )" + long_suffix + R"(}
  total:   {type: file, path: out/total.json}
params: {min_length: )" + std::to_string(min_length) + R"(}
nodes:
  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 2}
  - {name: digest, func: builtin.sha256, inputs: [counts], outputs: [digests], slices: 2}
  - {name: long, func: builtin.)" + long_function + R"(, inputs: [docs, params:min_length], outputs: [long], slices: 2}
  - {name: total, func: builtin.wc_total, inputs: [counts], outputs: [total]}
)";
}

struct WhyRun {
    Workspace ws{why_pipeline()};
    WhyRun() {
        fs::copy_file(fs::path(host_program()).parent_path().parent_path() / "lib/steppar/plugins/steppar_builtin.so", ws.dir / "builtin.so");
        make_docs(ws.dir / "data/docs", 12);
        run();
    }
    std::string p() const { return ws.pipeline.string(); }
    Result run(std::vector<std::string> extra = {}) const {
        const Result r = ws.run(std::move(extra));
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
        return r;
    }
    std::string plan() const {
        const Result r = host({"plan", p()});
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
        return r.out;
    }
    nlohmann::json why(const std::string& relative) const {
        const Result r = host({"why", p(), (ws.dir / relative).string(), "--format", "json"});
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
        return nlohmann::json::parse(r.out);
    }
    void check_equals_clean_run() const {
        const std::string differences = differences_from_clean_run(ws);
        BOOST_TEST(differences.empty(), differences);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(why)

// Changes to inputs and outputs: each partition runs for the one reason that was provoked.
BOOST_AUTO_TEST_CASE(input_and_output_changes_each_have_their_reason) {
    WhyRun t;
    const fs::path docs = t.ws.dir / "data/docs";
    write_file(docs / "doc-new.txt", "a new document\n");                                        // new-input
    write_file(docs / "doc-0001.txt", read_file(docs / "doc-0001.txt") + "more words here\n");  // input-changed:size
    {
        std::string text = read_file(docs / "doc-0002.txt");  // same size, other bytes, other mtime
        text[0] = text[0] == 'x' ? 'y' : 'x';
        write_file(docs / "doc-0002.txt", text);
        set_mtime(docs / "doc-0002.txt", 1700000000);
    }
    {
        struct stat st {};
        BOOST_REQUIRE(::stat((docs / "doc-0004.txt").c_str(), &st) == 0);
        BOOST_REQUIRE(::chmod((docs / "doc-0004.txt").c_str(), 0600) == 0);  // only its ctime moves
        BOOST_REQUIRE(::chmod((docs / "doc-0004.txt").c_str(), st.st_mode & 07777) == 0);
    }
    fs::remove(docs / "doc-0003.txt");                                           // input-deleted->retract
    fs::remove(t.ws.dir / "out/counts/doc-0008.json");                           // output-missing
    write_file(t.ws.dir / "out/counts/doc-0006.json", "{\"tampered\": 1}\n");    // output-modified-by-someone-else

    const std::string plan = t.plan();
    for (const char* line : {"why\tcount\tnew-input\t1\tdoc-new", "why\tcount\tinput-changed:size\t1\tdoc-0001",
                             "why\tcount\tinput-changed:mtime\t1\tdoc-0002", "why\tcount\tinput-changed:ctime\t1\tdoc-0004",
                             "why\tcount\tinput-deleted->retract\t1\tdoc-0003", "why\tcount\toutput-missing\t1\tdoc-0008",
                             "why\tcount\toutput-modified-by-someone-else\t1\tdoc-0006"})
        BOOST_TEST(has(plan, line), line << " not in:\n" << plan);
    // `why` on single outputs says the same, with the stamps then and now.
    auto size_changed = t.why("out/counts/doc-0001.json");
    BOOST_TEST(size_changed["verdict"] == nlohmann::json({"input-changed:size"}));
    BOOST_TEST(size_changed["inputs"][0]["changed"] == true);
    BOOST_TEST(size_changed["unit"] == "count");
    BOOST_TEST(size_changed["kind"] == "made");
    BOOST_TEST(size_changed["slice"].is_number());
    BOOST_TEST(t.why("out/counts/doc-0008.json")["verdict"] == nlohmann::json({"output-missing"}));
    BOOST_TEST(t.why("out/counts/doc-0006.json")["verdict"] == nlohmann::json({"output-modified-by-someone-else"}));
    BOOST_TEST(t.why("out/counts/doc-0003.json")["verdict"] == nlohmann::json({"input-deleted->retract"}));
    BOOST_TEST(t.why("out/counts/doc-0007.json")["up_to_date"] == true);

    const Result r = t.run();
    BOOST_TEST(has(r.err, "count: why: "), r.err);
    BOOST_TEST(has(r.err, "new-input 1 (doc-new)"), r.err);
    // digest reads what count remade: its partitions run because upstream rebuilt them.
    BOOST_TEST(has(r.err, "digest: why: upstream-rebuilt"), r.err);
    BOOST_TEST((!has(r.err, "long: why:") || has(r.err, "long: why: input-changed")), r.err);  // long reads docs itself
    t.check_equals_clean_run();
    const std::string after = t.plan();
    BOOST_TEST(!has(after, "why\t"), after);  // nothing left to run, no reason printed
    BOOST_TEST(t.why("out/counts/doc-0001.json")["up_to_date"] == true);
    // --force says so.
    BOOST_TEST(has(t.run({"--force"}).err, "count: why: forced 12"));
}

// Changes to the definition: which part changed is named, in plan, run and why.
BOOST_AUTO_TEST_CASE(definition_changes_name_their_part) {
    WhyRun t;
    write_file(t.ws.pipeline, why_pipeline(6));  // params
    BOOST_TEST(has(t.plan(), "why\tlong\tdefinition-changed:params\t12\t"));
    auto j = t.why("out/long/doc-0001.txt");
    BOOST_TEST(j["verdict"] == nlohmann::json({"definition-changed:params"}));
    BOOST_TEST(j["definition"]["changes"] == nlohmann::json({"params: params:min_length 5 -> 6"}));
    BOOST_TEST(j["definition"]["parts_then"]["nodes"][0]["params"]["params:min_length"] == 5);
    const Result text = host({"why", t.p(), (t.ws.dir / "out/long/doc-0001.txt").string()});
    BOOST_TEST(has(text.out, "definition\tparams: params:min_length 5 -> 6"), text.out);
    BOOST_TEST(has(text.out, "verdict\ta run would remake it: definition-changed:params"), text.out);
    BOOST_TEST(has(t.run().err, "long: why: definition-changed:params 12 (doc-0000, doc-0001, doc-0002, ...)"));
    t.check_equals_clean_run();

    write_file(t.ws.pipeline, why_pipeline(6, "lowercase"));  // function
    BOOST_TEST(has(t.plan(), "why\tlong\tdefinition-changed:function\t12\t"));
    BOOST_TEST(has(t.why("out/long/doc-0001.txt")["definition"]["changes"][0].get<std::string>(), "function: node 'long' function"));
    t.run();
    t.check_equals_clean_run();

    std::string bytes = read_file(t.ws.dir / "builtin.so");  // plugin: other bytes, as after a rebuild
    write_file(t.ws.dir / "builtin.so", bytes + "rebuilt");
    const std::string plan = t.plan();
    BOOST_TEST(has(plan, "why\tcount\tdefinition-changed:plugin\t12\t"), plan);
    j = t.why("out/counts/doc-0001.json");
    BOOST_TEST(j["verdict"] == nlohmann::json({"definition-changed:plugin"}));
    BOOST_TEST(has(j["definition"]["changes"][0].get<std::string>(), "plugin: node 'count' plugin '"));
    BOOST_TEST(has(j["definition"]["changes"][0].get<std::string>(), "rebuilt"));
    t.run();
    t.check_equals_clean_run();

    // settings: a dataset's suffix. Only the reason is checked here: the outputs under the old
    // suffix are no partitions of the dataset any more and stay (README: changing a dataset).
    write_file(t.ws.pipeline, why_pipeline(6, "lowercase", ".text"));
    BOOST_TEST(has(t.plan(), "why\tlong\tdefinition-changed:settings\t12\t"));
}

// A whole-function node's output, a file steppar did not write, and a path in no dataset.
BOOST_AUTO_TEST_CASE(whole_node_outputs_foreign_files_and_strangers) {
    WhyRun t;
    auto j = t.why("out/total.json");
    BOOST_TEST(j["kind"] == "made");
    BOOST_TEST(j["unit"] == "total");
    BOOST_TEST(j["up_to_date"] == true);
    write_file(t.ws.dir / "out/total.json", "{}\n");
    BOOST_TEST(t.why("out/total.json")["verdict"] == nlohmann::json({"output-modified-by-someone-else"}));
    write_file(t.ws.dir / "out/counts/mine.json", "{}\n");
    j = t.why("out/counts/mine.json");
    BOOST_TEST(j["kind"] == "foreign");
    BOOST_TEST(j["dataset"] == "counts");
    BOOST_TEST(t.why("data/docs/doc-0001.txt")["kind"] == "foreign");
    const Result stranger = host({"why", t.p(), "/etc/hostname"});
    BOOST_TEST(stranger.exit_code == 2);
    BOOST_TEST(has(stranger.err, "is no file of any dataset"), stranger.err);
}


// A whole-function node names the input partitions that changed since the run that made its
// output (from the input listing it keeps under its fingerprint), not only that some did.
BOOST_AUTO_TEST_CASE(whole_node_names_the_input_partitions_that_changed) {
    WhyRun t;
    write_file(t.ws.dir / "data/docs/doc-0001.txt", "one two three four five six seven\n");
    fs::remove(t.ws.dir / "data/docs/doc-0002.txt");
    write_file(t.ws.dir / "data/docs/doc-new.txt", "new\n");
    t.run({"--nodes", "count"});  // counts change; total has not run since
    auto j = t.why("out/total.json");
    BOOST_TEST(j["up_to_date"] == false);
    std::map<std::string, std::pair<bool, bool>> inputs;  // file -> (then, now)
    for (const auto& in : j["inputs"]) {
        BOOST_TEST(in["dataset"] == "counts");
        inputs[fs::path(in["path"].get<std::string>()).filename().string()] = {!in["then"].get<std::string>().empty(), !in["now"].get<std::string>().empty()};
    }
    BOOST_TEST((inputs == std::map<std::string, std::pair<bool, bool>>{
                    {"doc-0001.json", {true, true}}, {"doc-0002.json", {true, false}}, {"doc-new.json", {false, true}}}));
    const auto verdict = j["verdict"].get<std::vector<std::string>>();
    BOOST_REQUIRE_EQUAL(verdict.size(), 3u);
    BOOST_TEST(verdict[0] == "new-input");
    BOOST_TEST(verdict[1] == "input-deleted");
    BOOST_TEST(verdict[2].rfind("input-changed:", 0) == 0u, verdict[2]);
    const Result text = host({"why", t.p(), (t.ws.dir / "out/total.json").string()});
    BOOST_TEST(has(text.out, "input\t" + (t.ws.dir / "out/counts/doc-0002.json").string() + "\tthen "), text.out);
    BOOST_TEST(has(text.out, "; now missing"), text.out);

    // Without the listing of that run: the verdict still, and why the partitions are not named.
    for (const auto& kept : fs::directory_iterator(t.ws.dir / ".steppar/units/total/inputs")) fs::remove(kept.path());
    j = t.why("out/total.json");
    BOOST_TEST(j["inputs"].empty());
    BOOST_TEST(j["verdict"] == nlohmann::json({"input-changed"}));
    BOOST_TEST(has(j["note"].get<std::string>(), "input listing of that run is not kept"), j["note"]);

    t.run();
    j = t.why("out/total.json");
    BOOST_TEST(j["up_to_date"] == true);
    BOOST_TEST(j["inputs"].empty());
    std::size_t listings = 0;
    for ([[maybe_unused]] const auto& kept : fs::directory_iterator(t.ws.dir / ".steppar/units/total/inputs")) ++listings;
    BOOST_TEST(listings == 1u);  // only the one its marker names
    t.check_equals_clean_run();
}

BOOST_AUTO_TEST_SUITE_END()
