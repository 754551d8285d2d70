// The pipeline: nodes wired by the datasets they read and write, and the C++ API that builds
// them. A pipeline is a list of *units*: a plain node, a multinode (one node replicated over N
// slices of its partitions) or a multipipeline (a chain of nodes replicated together, so each
// slice runs the whole chain on its own partitions).
//
//   using namespace steppar;
//   Fragment f = multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::fixed(4))
//              + node({"total", "builtin.wc_total", {"counts"}, {"total"}})
//              + multipipeline("clean_and_hash",
//                              {{"lower", "builtin.lowercase", {"docs"}, {"lower_docs"}},
//                               {"hash", "builtin.sha256", {"lower_docs"}, {"digests"}}},
//                              Slices::fixed(3));
//   Pipeline pipeline(std::move(catalog), params, std::move(f));
//   pipeline.validate(kind_of);   // resolves intermediates, checks the DAG
//
// The pipeline file (spec.hpp) is turned into exactly these calls.
#pragma once

#include "steppar/catalog.hpp"
#include "steppar/configurator.hpp"
#include "steppar/date_range.hpp"

#include <steppar/sdk.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace steppar {

/// "plugin.function", e.g. "builtin.wc".
struct FunctionRef {
    std::string plugin;
    std::string function;

    static FunctionRef parse(std::string_view text);  ///< throws std::invalid_argument
    std::string text() const { return plugin + "." + function; }
};

/// One node: a function applied to named inputs, writing named outputs. An input is a dataset
/// name or `params:NAME`.
struct Node {
    std::string name;
    FunctionRef function;
    std::vector<std::string> inputs;
    std::vector<std::string> outputs;
    int line = 0;  ///< where the pipeline file declares it, for messages

    Node() = default;
    Node(std::string name, std::string_view function, std::vector<std::string> inputs,
         std::vector<std::string> outputs, int line = 0);

    static bool is_param(std::string_view input) { return input.rfind("params:", 0) == 0; }
    static std::string param_name(std::string_view input) { return std::string(input.substr(7)); }
};

/// How many slices a multinode runs as: a fixed count, or one per core.
struct Slices {
    int count = 1;
    bool per_core = false;

    static Slices fixed(int n) { return Slices{n, false}; }
    static Slices automatic() { return Slices{0, true}; }
    /// The actual number of slices on this machine.
    int resolve() const;
};

enum class UnitKind { node, multinode, multipipeline };

/// How the slicer cuts partitions into slices: the same number of partitions each (count), or
/// the same number of input bytes each, largest partition first (size: for skewed datasets).
enum class Balance { count, size };

/// What one slice (or a plain node) needs of a machine, for cluster schedulers and the local
/// parallel runner. 0: not said.
struct Resources {
    int cpus = 0;                 ///< cores; locally a slice counts as this many of --max-workers
    std::uint64_t mem_bytes = 0;  ///< memory (Slurm --mem, Kubernetes requests/limits)
    double time_seconds = 0;      ///< wall time the cluster should allow (Slurm --time, Job activeDeadlineSeconds)
    bool any() const noexcept { return cpus > 0 || mem_bytes > 0 || time_seconds > 0; }
};

/// Everything about a unit besides its nodes and slice count; all optional.
struct UnitOptions {
    std::vector<std::string> filter;   ///< only partitions matching one of these regexes are sliced
    std::vector<std::string> exclude;  ///< partitions matching one of these are left out
    std::optional<DateRangeSpec> date_range;  ///< only partitions whose name holds a date in it
    bool strict = false;               ///< zipped inputs must have the same partitions
    Balance balance = Balance::count;  ///< how the slicer cuts
    std::vector<std::string> tags;     ///< extra tags; the unit's name is always one
    std::string name_space;            ///< prefixes node names and intermediate datasets
    std::string configurator;          ///< name of the parameter holding its configurators
    int max_simultaneous_steps = 0;    ///< multipipeline: derive slices from this cap (0: off)
    double timeout_seconds = 0;        ///< a slice (or the node) running longer is killed; 0: no limit
    int retries = -1;                  ///< failed slices are run again up to this often; -1: the run's default
    Resources resources;               ///< `resources: {cpus, mem, time}`
};

/// A plain node, or a replicated node/chain: the thing the expansion turns into
/// slicer -> slices -> barrier.
struct Unit {
    UnitKind kind = UnitKind::node;
    std::string name;         ///< the node's name, or the multipipeline's
    std::vector<Node> nodes;  ///< one node, or the chain in execution order (after validate())
    Slices slices;
    int line = 0;
    UnitOptions options;

    bool replicated() const noexcept { return kind != UnitKind::node; }
};

/// A piece of a pipeline; fragments add up.
struct Fragment {
    std::vector<Unit> units;
};
Fragment operator+(Fragment a, Fragment b);

Fragment node(Node n, UnitOptions options = {});
Fragment multinode(Node n, Slices slices, UnitOptions options = {});
Fragment multipipeline(std::string name, std::vector<Node> chain, Slices slices, UnitOptions options = {}, int line = 0);

/// Slices of a multipipeline capped at `cap` simultaneous steps whose widest layer runs
/// `widest_layer` nodes side by side: floor(cap / widest), at least 1.
int max_simultaneous_slices(int cap, int widest_layer);

/// Tells validate() whether a node's function is a partition or a whole function (throws
/// PluginError for an unknown plugin or function).
using KindResolver = std::function<NodeKind(const Node&)>;

class Pipeline {
public:
    Pipeline() = default;
    /// `params` maps names to JSON text. `source` is the pipeline file, for messages.
    Pipeline(Catalog catalog, std::map<std::string, std::string, std::less<>> params, Fragment fragment,
             std::filesystem::path source = {}, std::filesystem::path intermediate_root = {});

    /// Checks the whole pipeline and completes it: unique names, known functions, params and
    /// datasets, one producer per dataset, no cycle, multinodes over partition functions,
    /// outputs not inside inputs, slices >= 1; adds intermediate datasets (under
    /// `intermediate_root`) and orders each multipipeline's chain. Throws SpecError; throws
    /// std::logic_error when called a second time (it prefixes namespaces and adds datasets).
    void validate(const KindResolver& kind_of);
    /// Whether validate() was called.
    bool validated() const noexcept { return validated_; }
    /// Replaces the value (JSON text) of a param the file declares, before validate(); throws
    /// UsageError naming the known params when there is no such param.
    void override_param(const std::string& name, std::string json);

    const Catalog& catalog() const noexcept { return catalog_; }
    const std::vector<Unit>& units() const noexcept { return units_; }
    const Unit& unit(std::string_view name) const;  ///< throws UsageError listing the units
    const std::map<std::string, std::string, std::less<>>& params() const noexcept { return params_; }
    const std::filesystem::path& source() const noexcept { return source_; }
    NodeKind kind(const Node& node) const;  ///< valid after validate()

    /// The unit's configurators (parsed from its `configurator:` parameter), or null.
    const ConfiguratorSet* configurators(const Unit& unit) const;
    /// The unit's tags: its name and any `tags:` given.
    static std::vector<std::string> tags(const Unit& unit);

    /// Partitioned inputs of a unit that come from outside it: the slicer zips these.
    std::vector<std::string> external_partitioned_inputs(const Unit& unit) const;
    /// Indices of the units that write `dataset` (several only for a partitioned dataset that
    /// partition functions of different units write); empty for a source dataset.
    const std::vector<int>& producers(std::string_view dataset) const;
    /// Indices of the units unit `u` waits for: the producers of what it reads and, when it
    /// shares an output with other units, what those read (valid after validate()).
    const std::vector<std::size_t>& upstream(std::size_t u) const { return upstream_[u]; }

private:
    [[noreturn]] void fail(int line, const std::string& message) const;

    // validate()'s passes, in the order it runs them.
    void apply_namespaces();
    void check_names_and_options();
    void resolve_kinds(const KindResolver& kind_of);
    void collect_producers();
    void add_intermediates();
    void check_inputs();
    void check_output_folders();
    void order_chains();
    void apply_max_simultaneous_steps();
    void check_step_count();
    void order_units();

    Catalog catalog_;
    std::map<std::string, std::string, std::less<>> params_;
    std::vector<Unit> units_;
    std::filesystem::path source_;
    std::filesystem::path intermediate_root_;
    std::map<std::string, NodeKind, std::less<>> kinds_;          // node name -> kind
    std::map<std::string, std::vector<int>, std::less<>> producers_;  // dataset -> unit indices
    std::vector<std::vector<std::size_t>> upstream_;                   // unit -> units it waits for
    std::map<std::string, std::shared_ptr<const ConfiguratorSet>, std::less<>> configurators_;  // unit -> set
    bool validated_ = false;
};

}  // namespace steppar
