#include "steppar/cluster_export.hpp"

#include "steppar/atomic_file.hpp"
#include "steppar/error.hpp"
#include "steppar/hash.hpp"
#include "steppar/text.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace fs = std::filesystem;

namespace steppar {
namespace {

std::string numbered(std::size_t index, const std::string& name, const std::string& extension) {
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "%02zu-", index + 1);
    return prefix + name + extension;
}

// Memory in whole MiB, rounded up (what sbatch --mem=NM and Kubernetes' "NMi" take).
std::uint64_t mebibytes(std::uint64_t bytes) { return (bytes + 1048575) / 1048576; }

// A Kubernetes object name (a DNS-1123 label: lowercase letters, digits and '-', starting and
// ending with a letter or digit) of at most `limit` characters, for the step `text`. When
// anything was lost on the way (upper case, other characters, the length), a digest of `text`
// keeps names apart: count_words, Count_Words and count.words stay three names.
std::string dns_name(const std::string& text, std::size_t limit) {
    std::string out = "steppar-";
    for (char c : text) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        out += (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '-';
    }
    const bool exact = out.size() <= limit && out.compare(8, std::string::npos, text) == 0 && out.back() != '-';
    if (exact) return out;
    const std::string digest = "-" + sha256_hex(text).substr(0, 8);
    out.resize(std::min(out.size(), limit - digest.size()));
    while (out.back() == '-') out.pop_back();
    return out + digest;
}

}  // namespace

std::vector<std::string> kubernetes_names(const std::vector<ClusterJob>& jobs) {
    std::vector<std::string> names;
    std::map<std::string, std::string> taken;  // name -> the job that has it
    for (const auto& job : jobs) {
        // An Indexed Job's pods are named JOB-INDEX, and a pod's hostname is a 63-character label too.
        const std::size_t limit = 63 - (job.array ? 1 + std::to_string(std::max(job.tasks - 1, 0)).size() : 0);
        names.push_back(dns_name(job.name, limit));
        if (const auto [it, fresh] = taken.emplace(names.back(), job.name); !fresh)
            throw UsageError("steps '" + it->second + "' and '" + job.name + "' would both be the Kubernetes Job '" + names.back() +
                             "'; rename one of their units");
    }
    return names;
}

std::vector<ClusterJob> cluster_jobs(const Project& project, const ExpandedGraph& graph, bool force) {
    const std::string pipeline = project.pipeline_file().string();
    const std::string state = project.state().root().string();
    std::vector<ClusterJob> jobs;
    std::map<std::size_t, std::size_t> job_of_step;
    for (std::size_t i = 0; i < graph.steps.size(); ++i) {
        const Step& step = graph.steps[i];
        const Unit& unit = project.pipeline().units()[step.unit];
        std::vector<std::size_t> after;
        for (const auto d : step.depends_on)
            if (auto it = job_of_step.find(d); it != job_of_step.end() &&
                                               std::find(after.begin(), after.end(), it->second) == after.end())
                after.push_back(it->second);
        switch (step.kind) {
            case StepKind::slicer:
                jobs.push_back({step.kind, step.name,
                                {"run-slicer", pipeline, "--node", unit.name, "--slices", std::to_string(slice_count(graph, step.unit)),  // fixed at export
                                 "--state-dir", state},
                                1, false, after, unit.name, {}, {}});
                break;
            case StepKind::slice:
                if (step.slice == 0)
                    jobs.push_back({step.kind, unit.name + "-slices",
                                    {"run-slice", pipeline, "--node", unit.name, "--slice", "{index}", "--state-dir", state},
                                    0, true, after, unit.name, {}, {}});
                ++jobs.back().tasks;
                break;
            case StepKind::barrier: {
                // After its slices however they ended, but only after its slicer succeeded: a
                // barrier must never pass on an older plan.
                std::vector<std::size_t> any = after;
                const auto slicer = job_of_step.find(graph.steps[step.depends_on.front()].depends_on.front());
                if (slicer != job_of_step.end()) after.push_back(slicer->second);
                jobs.push_back({step.kind, step.name, {"check-barrier", pipeline, "--node", unit.name, "--state-dir", state}, 1, false, after, unit.name, any, {}});
                break;
            }
            case StepKind::node:
                jobs.push_back({step.kind, step.name, {"run-node", pipeline, "--node", unit.name, "--state-dir", state}, 1, false, after, unit.name, {}, {}});
                break;
        }
        job_of_step[i] = jobs.size() - 1;
        if (force && (step.kind == StepKind::slicer || step.kind == StepKind::node)) jobs.back().args.push_back("--force");
        if (step.kind == StepKind::slice || step.kind == StepKind::node) jobs.back().resources = unit.options.resources;
    }
    return jobs;
}

std::vector<std::string> slurm_dependency(const ClusterJob& job, const std::function<std::string(std::size_t)>& id_of) {
    std::vector<std::string> ok, any;
    for (const auto a : job.after) {
        const std::string id = id_of(a);
        if (id.empty()) continue;
        (std::find(job.after_any.begin(), job.after_any.end(), a) != job.after_any.end() ? any : ok).push_back(id);
    }
    std::vector<std::string> conditions;  // ',' is AND in Slurm's --dependency
    if (!ok.empty()) conditions.push_back("afterok:" + join(ok, ":"));
    if (!any.empty()) conditions.push_back("afterany:" + join(any, ":"));
    if (conditions.empty()) return {};
    return {"--dependency=" + join(conditions, ","), "--kill-on-invalid-dep=yes"};
}

std::string array_ranges(const std::vector<int>& indices) {
    std::string out;
    for (std::size_t i = 0; i < indices.size();) {
        std::size_t j = i;
        while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
        if (!out.empty()) out += ',';
        out += std::to_string(indices[i]);
        if (j > i) out += '-' + std::to_string(indices[j]);
        i = j + 1;
    }
    return out;
}

std::vector<ArrayChunk> array_chunks(const std::vector<int>& slices, int max_array_size) {
    if (max_array_size < 1)
        throw UsageError("this Slurm cluster has job arrays disabled (MaxArraySize=" + std::to_string(max_array_size) +
                         "); steppar submits each multinode's slices as an array");
    constexpr std::size_t max_list = 2000;  // characters of one --array list; sbatch refuses ~4 KB
    std::vector<ArrayChunk> chunks;
    std::size_t list = 0;  // about the length of the chunk's array_ranges(): runs cost their two ends
    for (const int slice : slices) {
        if (chunks.empty() || slice - chunks.back().offset >= max_array_size || list > max_list) {
            chunks.push_back({slice, {}});
            list = 0;
        }
        auto& tasks = chunks.back().tasks;
        const int task = slice - chunks.back().offset;
        if (tasks.empty() || task != tasks.back() + 1) list += 2 * (std::to_string(task).size() + 1);
        tasks.push_back(task);
    }
    return chunks;
}

// `#SBATCH` lines and comments cannot quote: a line break in a path written there would end the
// line, and what follows would run as a command when the script runs. Refused, with any other
// control character.
void check_script_text(const std::string& what, const std::string& text) {
    for (const char c : text)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            std::string shown;
            append_json_string(shown, text);
            throw UsageError(what + " " + shown + " holds a line break or another control character, which cannot be written into a "
                             "Slurm script (it would end the line and run the rest); rename it");
        }
}

std::vector<fs::path> export_slurm(const Project& project, const ExpandedGraph& graph, const SlurmExport& options,
                                   const fs::path& out) {
    const fs::path logs = project.state().root() / "slurm";
    check_script_text("the pipeline file's path", project.pipeline_file().string());
    check_script_text("the state folder's path", logs.string());
    check_script_text("--out", out.string());
    check_script_text("--partition", options.partition);
    check_script_text("--account", options.account);
    for (const auto& arg : options.sbatch_args) check_script_text("--sbatch-arg", arg);
    const auto jobs = cluster_jobs(project, graph, options.force);
    std::vector<fs::path> written;
    std::ostringstream submit;
    submit << "#!/bin/bash\n"
           << "# Submits the steppar pipeline " << project.pipeline_file().string() << " to Slurm, in order,\n"
           << "# each job after the ones it needs (afterok; a barrier afterany, as it judges its slices itself).\n"
           << "# What follows a failed job is cancelled (--kill-on-invalid-dep), never left pending.\n"
           << "# Rerunning it resubmits everything; slices and nodes with nothing to do finish at once.\n"
           << "set -euo pipefail\ncd \"$(dirname \"$0\")\"\nmkdir -p " << shell_quote(logs.string()) << "\n";
    for (std::size_t j = 0; j < jobs.size(); ++j) {
        const ClusterJob& job = jobs[j];
        std::ostringstream script;
        script << "#!/bin/bash\n#SBATCH --job-name=steppar-" << job.name << "\n";
        if (job.array) {
            script << "#SBATCH --array=0-" << job.tasks - 1;
            if (options.max_parallel > 0) script << "%" << options.max_parallel;
            script << "\n#SBATCH --output=" << (logs / (job.name + "-%A_%a.out")).string() << "\n";
        } else {
            script << "#SBATCH --output=" << (logs / (job.name + "-%j.out")).string() << "\n";
        }
        if (!options.partition.empty()) script << "#SBATCH --partition=" << options.partition << "\n";
        if (job.resources.cpus > 0) script << "#SBATCH --cpus-per-task=" << job.resources.cpus << "\n";
        if (job.resources.mem_bytes > 0) script << "#SBATCH --mem=" << mebibytes(job.resources.mem_bytes) << "M\n";
        if (job.resources.time_seconds > 0)
            script << "#SBATCH --time=" << static_cast<long long>(std::ceil(job.resources.time_seconds / 60)) << "\n";  // minutes
        if (!options.account.empty()) script << "#SBATCH --account=" << options.account << "\n";
        for (const auto& arg : options.sbatch_args) script << "#SBATCH " << arg << "\n";
        script << "set -euo pipefail\nexec " << shell_quote(options.host_program);
        // A large array is submitted in parts (array_chunks): each says where its slices start.
        for (const auto& arg : job.args)
            script << " " << (arg == "{index}" ? std::string("\"$((SLURM_ARRAY_TASK_ID + ${STEPPAR_SLICE_OFFSET:-0}))\"") : shell_quote(arg));
        script << "\n";
        const std::string file = numbered(j, job.name, ".sbatch");
        write_file_atomically(out / file, script.str());
        written.push_back(out / file);

        const auto variable = [](std::size_t a) { return "${job" + std::to_string(a) + "}"; };
        std::vector<int> all(static_cast<std::size_t>(job.array ? job.tasks : 1));
        for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
        const auto chunks = job.array && job.tasks > options.max_array_size ? array_chunks(all, options.max_array_size)
                                                                            : std::vector<ArrayChunk>{{0, {}}};
        // jobN: the Slurm ids of job N, ':'-joined (several when its array was split).
        submit << "job" << j << "=";
        for (std::size_t c = 0; c < chunks.size(); ++c) {
            submit << (c ? ":" : "") << "$(sbatch --parsable";
            for (const auto& arg : slurm_dependency(job, variable)) submit << " " << arg;
            if (!chunks[c].tasks.empty())
                submit << " --array=" << array_ranges(chunks[c].tasks) << (options.max_parallel > 0 ? "%" + std::to_string(options.max_parallel) : "")
                       << " --export=ALL,STEPPAR_SLICE_OFFSET=" << chunks[c].offset;
            submit << " " << shell_quote(file) << " | cut -d';' -f1)";
        }
        submit << "\necho \"submitted " << job.name << ": ${job" << j << "}\"\n";
    }
    write_file_atomically(out / "submit.sh", submit.str());
    fs::permissions(out / "submit.sh", fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                    fs::perm_options::add);
    written.push_back(out / "submit.sh");
    return written;
}

std::vector<fs::path> export_kubernetes(const Project& project, const ExpandedGraph& graph, const KubernetesExport& options,
                                        const fs::path& out) {
    const auto jobs = cluster_jobs(project, graph);
    const auto names = kubernetes_names(jobs);  // refuses before anything is written
    const std::string mount = project.pipeline_file().parent_path().string();
    std::vector<fs::path> written;
    std::ostringstream readme;
    readme << "# steppar pipeline " << project.pipeline_file().filename().string() << " as Kubernetes Jobs\n\n"
           << "Every Job mounts the volume claim `" << options.volume_claim << "` at `" << mount
           << "` (the pipeline's folder, holding its data, outputs and the `.steppar` state folder), "
           << "runs image `" << options.image << "`, and must finish before the Jobs after it start. "
           << "Slices are Indexed Jobs: task *i* runs slice *i* (`JOB_COMPLETION_INDEX`).\n\n"
           << "Apply them in this order, waiting for each to complete:\n\n```sh\n";
    for (std::size_t j = 0; j < jobs.size(); ++j) {
        const ClusterJob& job = jobs[j];
        const std::string& name = names[j];
        YAML::Emitter y;
        y << YAML::BeginMap << YAML::Key << "apiVersion" << YAML::Value << "batch/v1" << YAML::Key << "kind" << YAML::Value << "Job";
        y << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap << YAML::Key << "name" << YAML::Value << name;
        y << YAML::Key << "labels" << YAML::Value << YAML::BeginMap << YAML::Key << "app.kubernetes.io/part-of" << YAML::Value
          << "steppar" << YAML::Key << "steppar/step" << YAML::Value << name.substr(8) << YAML::EndMap << YAML::EndMap;
        y << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
        if (job.array) {
            y << YAML::Key << "completionMode" << YAML::Value << "Indexed";
            y << YAML::Key << "completions" << YAML::Value << job.tasks;
            y << YAML::Key << "parallelism" << YAML::Value
              << (options.parallelism > 0 ? std::min(options.parallelism, job.tasks) : job.tasks);
        }
        y << YAML::Key << "backoffLimit" << YAML::Value << 0;
        if (job.resources.time_seconds > 0)
            y << YAML::Key << "activeDeadlineSeconds" << YAML::Value << static_cast<long long>(std::ceil(job.resources.time_seconds));
        y << YAML::Key << "template" << YAML::Value << YAML::BeginMap << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
        y << YAML::Key << "restartPolicy" << YAML::Value << "Never";
        y << YAML::Key << "containers" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
        y << YAML::Key << "name" << YAML::Value << "steppar" << YAML::Key << "image" << YAML::Value << options.image;
        std::string command = shell_quote(options.host_program);
        for (const auto& arg : job.args) command += " " + (arg == "{index}" ? std::string("\"$JOB_COMPLETION_INDEX\"") : shell_quote(arg));
        y << YAML::Key << "command" << YAML::Value << YAML::Flow << YAML::BeginSeq << "/bin/sh" << "-c" << ("exec " + command)
          << YAML::EndSeq;
        if (job.resources.cpus > 0 || job.resources.mem_bytes > 0) {  // requests = limits: what the slice was promised
            y << YAML::Key << "resources" << YAML::Value << YAML::BeginMap;
            for (const char* kind : {"requests", "limits"}) {
                y << YAML::Key << kind << YAML::Value << YAML::BeginMap;
                if (job.resources.cpus > 0) y << YAML::Key << "cpu" << YAML::Value << std::to_string(job.resources.cpus);
                if (job.resources.mem_bytes > 0) y << YAML::Key << "memory" << YAML::Value << std::to_string(mebibytes(job.resources.mem_bytes)) + "Mi";
                y << YAML::EndMap;
            }
            y << YAML::EndMap;
        }
        y << YAML::Key << "volumeMounts" << YAML::Value << YAML::BeginSeq << YAML::BeginMap << YAML::Key << "name" << YAML::Value
          << "pipeline" << YAML::Key << "mountPath" << YAML::Value << mount << YAML::EndMap << YAML::EndSeq;
        y << YAML::EndMap << YAML::EndSeq;  // container, containers
        y << YAML::Key << "volumes" << YAML::Value << YAML::BeginSeq << YAML::BeginMap << YAML::Key << "name" << YAML::Value
          << "pipeline" << YAML::Key << "persistentVolumeClaim" << YAML::Value << YAML::BeginMap << YAML::Key << "claimName"
          << YAML::Value << options.volume_claim << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
        y << YAML::EndMap << YAML::EndMap << YAML::EndMap << YAML::EndMap;  // pod spec, template, spec, job
        const std::string file = numbered(j, job.name, ".yaml");
        write_file_atomically(out / file, std::string(y.c_str()) + "\n");
        written.push_back(out / file);
        readme << "kubectl apply -f " << file << " && kubectl wait --for=condition=complete --timeout=24h job/" << name << "\n";
    }
    readme << "```\n\nJobs that could start together (no line between them in the graph) may be applied together; "
              "the order above is always safe. A failed Job leaves the markers of its finished slices: delete the "
              "Jobs and apply again to resume (slices whose marker is up to date finish at once).\n";
    write_file_atomically(out / "README.md", readme.str());
    written.push_back(out / "README.md");
    return written;
}

}  // namespace steppar
