// Cluster exports: Slurm scripts run through a stand-in sbatch, Kubernetes manifests parsed and
// their commands run as the Job controller would; both must give the sequential runner's outputs.
#include "harness.hpp"

#include <boost/test/unit_test.hpp>

#include <regex>
#include <set>
#include <yaml-cpp/yaml.h>

using namespace e2e;

namespace {

const char* export_pipeline = R"(plugins: {builtin: steppar_builtin}
catalog:
  docs:    {type: partitioned, path: data/docs, suffix: .txt}
  counts:  {type: partitioned, path: out/counts, suffix: .json}
  total:   {type: file, path: out/total.json}
  digests: {type: partitioned, path: out/digests, suffix: .sha256}
nodes:
  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 4}
  - {name: total, func: builtin.wc_total, inputs: [counts], outputs: [total]}
  - multipipeline:
      name: clean
      slices: 3
      nodes:
        - {name: lower, func: builtin.lowercase, inputs: [docs], outputs: [lowered]}
        - {name: hash, func: builtin.sha256, inputs: [lowered], outputs: [digests]}
)";

// The pipeline above over 30 generated documents.
struct ExportProject : Workspace {
    ExportProject() : Workspace(export_pipeline) { make_docs(dir / "data/docs", 30); }
};

const std::map<std::string, std::string>& sequential_outputs() {
    static const auto outputs = [] {
        ExportProject p;
        const Result r = judge_run(p.pipeline, {"--runner", "sequential"});
        if (r.exit_code != 0) throw std::runtime_error(r.err);
        return snapshot(p.dir / "out");
    }();
    return outputs;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_export)

// What cannot be quoted in a Slurm script is refused: a line break in the state folder's path
// ended its #SBATCH --output line, and the rest ran as a command when the script ran. $() and
// quotes are written quoted, so submitting runs nothing of them.
BOOST_AUTO_TEST_CASE(paths_cannot_inject_commands_into_slurm_scripts) {
    ExportProject p;
    const auto injected = [&] {
        for (const auto& entry : fs::recursive_directory_iterator(p.dir.path()))
            if (entry.path().filename() == "INJECTED") return true;
        return false;
    };
    const Result refused = host({"export", "slurm", p.pipeline.string(), "--out", (p.dir / "slurm").string(), "--state-dir",
                                 (p.dir / "state\ntouch INJECTED\n").string()});
    BOOST_TEST(refused.exit_code == 2, refused.err);
    BOOST_TEST(refused.err.find("the state folder's path") != std::string::npos, refused.err);
    BOOST_TEST(refused.err.find("holds a line break") != std::string::npos, refused.err);
    BOOST_TEST(!fs::exists(p.dir / "slurm/submit.sh"));
    const Result option = host({"export", "slurm", p.pipeline.string(), "--out", (p.dir / "slurm").string(), "--partition", "batch\ntouch INJECTED"});
    BOOST_TEST(option.exit_code == 2, option.err);
    BOOST_TEST(option.err.find("--partition") != std::string::npos, option.err);

    const Result exported = host({"export", "slurm", p.pipeline.string(), "--out", (p.dir / "slurm").string(), "--state-dir",
                                  (p.dir / "st $(touch INJECTED) 'q' `touch INJECTED`").string()});
    BOOST_REQUIRE_MESSAGE(exported.exit_code == 0, exported.err);
    const std::string path = "PATH=" + quote(source("tests/e2e/fake-slurm").string()) + ":\"$PATH\" ";
    const Result submitted = shell(path + "bash " + quote((p.dir / "slurm/submit.sh").string()));
    BOOST_TEST(submitted.exit_code == 0, submitted.err);
    BOOST_TEST((snapshot(p.dir / "out") == sequential_outputs()));
    BOOST_TEST(!injected());
}

BOOST_AUTO_TEST_CASE(slurm_scripts_chain_arrays_and_reproduce_the_sequential_outputs) {
    ExportProject p;
    const Result exported = host({"export", "slurm", p.pipeline.string(), "--out", (p.dir / "slurm").string(), "--max-parallel",
                                  "2", "--partition", "batch", "--account", "lab", "--sbatch-arg=--mem=2G"});
    BOOST_REQUIRE_MESSAGE(exported.exit_code == 0, exported.err);
    const std::string slices = read_file(p.dir / "slurm/02-count-slices.sbatch");
    BOOST_TEST(slices.find("#SBATCH --array=0-3%2\n") != std::string::npos, slices);
    BOOST_TEST(slices.find("#SBATCH --partition=batch\n#SBATCH --account=lab\n#SBATCH --mem=2G\n") != std::string::npos, slices);
    BOOST_TEST(slices.find("'--slice' \"$((SLURM_ARRAY_TASK_ID + ${STEPPAR_SLICE_OFFSET:-0}))\"") != std::string::npos, slices);
    BOOST_TEST(read_file(p.dir / "slurm/01-count-slicer.sbatch").find("'run-slicer'") != std::string::npos);
    const std::string submit = read_file(p.dir / "slurm/submit.sh");
    // Nothing is ever left PENDING after a failure: dependents of a failed job are cancelled
    // (--kill-on-invalid-dep), and the barrier runs after its slices however they ended, to fail
    // naming the slices that did not succeed.
    BOOST_TEST(submit.find("job3=$(sbatch --parsable --dependency=afterok:${job2} --kill-on-invalid-dep=yes '04-total.sbatch' | cut -d';' -f1)") !=
                   std::string::npos,
               submit);
    BOOST_TEST(submit.find("job2=$(sbatch --parsable --dependency=afterok:${job0},afterany:${job1} --kill-on-invalid-dep=yes "
                           "'03-count-barrier.sbatch' | cut -d';' -f1)") != std::string::npos,
               submit);
    BOOST_TEST(shell("bash -n " + quote((p.dir / "slurm/submit.sh").string())).exit_code == 0);

    const std::string path = "PATH=" + quote(source("tests/e2e/fake-slurm").string()) + ":\"$PATH\" ";
    const Result submitted = shell(path + "FAKE_SBATCH_LOG=" + quote((p.dir / "sbatch.log").string()) + " bash " +
                                   quote((p.dir / "slurm/submit.sh").string()));
    BOOST_REQUIRE_MESSAGE(submitted.exit_code == 0, submitted.err);
    BOOST_TEST((snapshot(p.dir / "out") == sequential_outputs()));
    // Resubmitting finishes at once: the slicer job plans nothing, every slice has nothing to run.
    const Result again = shell(path + "bash " + quote((p.dir / "slurm/submit.sh").string()));
    BOOST_TEST(again.exit_code == 0);
    BOOST_TEST(again.err.find("count: 0 new, 0 changed, 30 up to date") != std::string::npos, again.err);
    BOOST_TEST(again.err.find("count-slice-3: nothing to run in this plan") != std::string::npos, again.err);
    BOOST_TEST(again.err.find("total: up to date, skipped") != std::string::npos, again.err);
    // One new file: the rerun of submit.sh makes exactly that partition, and what reads it.
    write_file(p.dir / "data/docs/new-one.txt", "one more document\n");
    const Result added = shell(path + "bash " + quote((p.dir / "slurm/submit.sh").string()));
    BOOST_TEST(added.exit_code == 0, added.err);
    BOOST_TEST(added.err.find("count: 1 new, 0 changed, 30 up to date") != std::string::npos, added.err);
    BOOST_TEST(added.err.find("node 'total' done") != std::string::npos, added.err);
    ExportProject fresh;
    write_file(fresh.dir / "data/docs/new-one.txt", "one more document\n");
    BOOST_REQUIRE_EQUAL(judge_run(fresh.pipeline, {"--runner", "sequential", "-q"}).exit_code, 0);
    BOOST_TEST((snapshot(p.dir / "out") == snapshot(fresh.dir / "out")));
}

BOOST_AUTO_TEST_CASE(kubernetes_indexed_jobs_carry_the_fields_and_run_as_the_controller_would) {
    ExportProject p;
    const Result exported = host({"export", "k8s", p.pipeline.string(), "--out", (p.dir / "k8s").string(), "--image",
                                  "registry/steppar:1", "--volume-claim", "shared", "--parallelism", "2", "--host-program",
                                  host_program()});
    BOOST_REQUIRE_MESSAGE(exported.exit_code == 0, exported.err);
    const std::string readme = read_file(p.dir / "k8s/README.md");
    std::vector<std::string> order;
    for (const auto& entry : fs::directory_iterator(p.dir / "k8s"))
        if (entry.path().extension() == ".yaml") order.push_back(entry.path().filename().string());
    std::sort(order.begin(), order.end());
    BOOST_TEST(order.size() == 7u);  // 2 slicers, 2 Indexed Jobs, 2 barriers, 1 node
    std::size_t last = 0;
    for (const auto& file : order) {  // the README applies every file, in this order
        const auto at = readme.find("kubectl apply -f " + file);
        BOOST_TEST(at != std::string::npos, file);
        BOOST_TEST(at >= last);
        last = at;
    }
    for (const auto& file : order) {
        const YAML::Node job = YAML::LoadFile((p.dir / "k8s" / file).string());
        BOOST_TEST(job["kind"].as<std::string>() == "Job");
        const auto pod = job["spec"]["template"]["spec"];
        BOOST_TEST(pod["restartPolicy"].as<std::string>() == "Never");
        BOOST_TEST(pod["volumes"][0]["persistentVolumeClaim"]["claimName"].as<std::string>() == "shared");
        const auto container = pod["containers"][0];
        BOOST_TEST(container["image"].as<std::string>() == "registry/steppar:1");
        BOOST_TEST(container["volumeMounts"][0]["mountPath"].as<std::string>() == p.dir.path().string());
        const std::string command = container["command"][2].as<std::string>();
        const bool indexed = job["spec"]["completionMode"] && job["spec"]["completionMode"].as<std::string>() == "Indexed";
        int completions = 1;
        if (indexed) {
            completions = job["spec"]["completions"].as<int>();
            BOOST_TEST(job["spec"]["parallelism"].as<int>() == 2);
            BOOST_TEST(command.find("\"$JOB_COMPLETION_INDEX\"") != std::string::npos, command);
            BOOST_TEST((completions == 4 || completions == 3), file);
        }
        // Run the pod's command like the Job controller: once per completion index.
        for (int i = 0; i < completions; ++i) {
            const Result r = shell("JOB_COMPLETION_INDEX=" + std::to_string(i) + " " + container["command"][0].as<std::string>() +
                                   " -c " + quote(command));
            BOOST_REQUIRE_MESSAGE(r.exit_code == 0, file << ": " << r.err);
        }
    }
    BOOST_TEST((snapshot(p.dir / "out") == sequential_outputs()));
}

// A slice array larger than the cluster's MaxArraySize is submitted in parts: task i of a part
// runs slice offset + i. (The real Slurm test submits 1,500 slices the same way.)
BOOST_AUTO_TEST_CASE(slurm_arrays_above_max_array_size_go_in_parts) {
    ExportProject p;
    const Result exported = host({"export", "slurm", p.pipeline.string(), "--out", (p.dir / "slurm").string(), "--max-array-size", "3"});
    BOOST_REQUIRE_MESSAGE(exported.exit_code == 0, exported.err);
    const std::string submit = read_file(p.dir / "slurm/submit.sh");
    BOOST_TEST(submit.find("--array=0-2 --export=ALL,STEPPAR_SLICE_OFFSET=0 '02-count-slices.sbatch'") != std::string::npos, submit);
    BOOST_TEST(submit.find("--array=0 --export=ALL,STEPPAR_SLICE_OFFSET=3 '02-count-slices.sbatch'") != std::string::npos, submit);
    const std::string path = "PATH=" + quote(source("tests/e2e/fake-slurm").string()) + ":\"$PATH\" ";
    const Result submitted = shell(path + "bash " + quote((p.dir / "slurm/submit.sh").string()));
    BOOST_REQUIRE_MESSAGE(submitted.exit_code == 0, submitted.err);
    BOOST_TEST((snapshot(p.dir / "out") == sequential_outputs()));
    const Result zero = host({"export", "slurm", p.pipeline.string(), "--out", (p.dir / "x").string(), "--max-array-size", "0"});
    BOOST_TEST(zero.exit_code == 2);
    BOOST_TEST(zero.err.find("--max-array-size must be at least 1") != std::string::npos, zero.err);
}

// resources: {cpus, mem, time} reach each slice and plain node: sbatch lines and Kubernetes
// requests/limits and deadlines; slicers and barriers (host bookkeeping) ask for nothing.
BOOST_AUTO_TEST_CASE(resources_reach_the_cluster_jobs) {
    ExportProject p;
    std::string text = read_file(p.pipeline);
    const auto at = text.find("slices: 4");
    BOOST_REQUIRE(at != std::string::npos);
    text.replace(at, 9, "slices: 4, resources: {cpus: 2, mem: 1.5G, time: 90m}");
    write_file(p.pipeline, text);
    BOOST_REQUIRE_EQUAL(host({"export", "slurm", p.pipeline.string(), "--out", (p.dir / "slurm").string()}).exit_code, 0);
    const std::string slices = read_file(p.dir / "slurm/02-count-slices.sbatch");
    BOOST_TEST(slices.find("#SBATCH --cpus-per-task=2\n#SBATCH --mem=1536M\n#SBATCH --time=90\n") != std::string::npos, slices);
    BOOST_TEST(read_file(p.dir / "slurm/01-count-slicer.sbatch").find("--cpus-per-task") == std::string::npos);
    BOOST_REQUIRE_EQUAL(host({"export", "k8s", p.pipeline.string(), "--out", (p.dir / "k8s").string(), "--image", "i", "--volume-claim", "c"}).exit_code,
                        0);
    const YAML::Node job = YAML::LoadFile((p.dir / "k8s/02-count-slices.yaml").string());
    BOOST_TEST(job["spec"]["activeDeadlineSeconds"].as<long long>() == 5400);
    const auto resources = job["spec"]["template"]["spec"]["containers"][0]["resources"];
    BOOST_TEST(resources["requests"]["cpu"].as<std::string>() == "2");
    BOOST_TEST(resources["limits"]["memory"].as<std::string>() == "1536Mi");
    BOOST_TEST(!YAML::LoadFile((p.dir / "k8s/01-count-slicer.yaml").string())["spec"]["template"]["spec"]["containers"][0]["resources"]);
}

// Job names are DNS-1123 labels of at most 63 characters, and so are an Indexed Job's pod
// names (NAME-11): names that differ only in case or punctuation, or that had to be cut, stay
// apart by a digest of the step's name.
BOOST_AUTO_TEST_CASE(kubernetes_job_names_are_unique_and_valid) {
    TempDir dir;
    fs::create_directories(dir / "docs");
    const std::string long_name(53, 'x');
    write_file(dir / "pipeline.yml", R"(plugins: {builtin: steppar_builtin}
catalog:
  docs: {type: partitioned, path: docs, suffix: .txt}
  a:    {type: partitioned, path: out/a, suffix: .json}
  b:    {type: partitioned, path: out/b, suffix: .json}
  c:    {type: partitioned, path: out/c, suffix: .json}
nodes:
  - {name: count_words, func: builtin.wc, inputs: [docs], outputs: [a], slices: 2}
  - {name: Count_Words, func: builtin.wc, inputs: [docs], outputs: [b], slices: 2}
  - {name: )" + long_name + R"(, func: builtin.wc, inputs: [docs], outputs: [c], slices: 12}
)");
    const Result exported = host({"export", "k8s", (dir / "pipeline.yml").string(), "--out", (dir / "k8s").string(), "--image", "i",
                                  "--volume-claim", "c"});
    BOOST_REQUIRE_MESSAGE(exported.exit_code == 0, exported.err);
    std::set<std::string> names;
    std::size_t files = 0;
    for (const auto& entry : fs::directory_iterator(dir / "k8s")) {
        if (entry.path().extension() != ".yaml") continue;
        ++files;
        const YAML::Node job = YAML::LoadFile(entry.path().string());
        const std::string name = job["metadata"]["name"].as<std::string>();
        names.insert(name);
        const int completions = job["spec"]["completions"] ? job["spec"]["completions"].as<int>() : 0;
        const std::string longest_pod = completions ? name + "-" + std::to_string(completions - 1) : name;
        BOOST_TEST(longest_pod.size() <= 63u, longest_pod);
        BOOST_TEST(std::regex_match(name, std::regex("[a-z0-9]([-a-z0-9]*[a-z0-9])?")), name);
    }
    BOOST_TEST(files == 9u);
    BOOST_TEST(names.size() == files, "two Jobs share a name");
    BOOST_TEST(names.count("steppar-count-words-slicer") == 0u);  // changed (the '_'): a digest keeps it apart
}

BOOST_AUTO_TEST_CASE(export_usage_errors) {
    ExportProject p;
    const Result engine = host({"export", "slurn", p.pipeline.string(), "--out", "x"});
    BOOST_TEST(engine.exit_code == 2);
    BOOST_TEST(engine.err.find("did you mean 'slurm'") != std::string::npos, engine.err);
    const Result image = host({"export", "k8s", p.pipeline.string(), "--out", "x", "--volume-claim", "c"});
    BOOST_TEST(image.exit_code == 2);
    BOOST_TEST(image.err.find("image") != std::string::npos, image.err);
    // Options the Slurm runner cannot honour are refused, never silently ignored.
    for (const std::vector<std::string>& extra : {std::vector<std::string>{"--partitions", "^doc"}, {"--only-missing"}}) {
        std::vector<std::string> args = {"run", p.pipeline.string(), "--runner", "slurm"};
        args.insert(args.end(), extra.begin(), extra.end());
        const Result refused = host(args);
        BOOST_TEST(refused.exit_code == 2);
        BOOST_TEST(refused.err.find("--partitions and --only-missing are for the local runners") != std::string::npos, refused.err);
    }
}

BOOST_AUTO_TEST_SUITE_END()
