// The catalog: every dataset a pipeline reads or writes, and where it lives on disk.
//
// A *partitioned* dataset is a folder: each file under it (recursively) whose name ends with the
// dataset's suffix is a partition, named by its path relative to the folder without the suffix
// ("2024/05/orders" for data/2024/05/orders.txt). Hidden files (leading '.') are never
// partitions; that is where temporary files live. A *file* dataset is one file.
//
// Intermediate datasets (outputs not in the catalog, kept under the state folder) must hold any
// set of names an input can hold, including a partition `a` beside a folder `a/` (Linux's
// headers have `can.h` and `can/bcm.h`). So their names are encoded: every folder of a name gets
// the suffix ".d" and the file the suffix ".p", and `a` is stored as `a.p` while `a/b` is stored
// as `a.d/b.p`; no file can then sit where a folder must go.
#pragma once

#include "steppar/stamp.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace steppar {

enum class DatasetKind { partitioned, file };

struct Dataset {
    std::string name;
    DatasetKind kind = DatasetKind::partitioned;
    std::filesystem::path path;  ///< absolute folder (partitioned) or file path
    std::string suffix;          ///< partitioned only, e.g. ".txt"; may be empty
    std::string folder_suffix;   ///< intermediates: ".d" on every folder of a partition's name
    bool intermediate = false;   ///< not in the user's catalog: placed under the state folder
    int line = 0;                ///< where the pipeline file declares it, for messages

    bool partitioned() const noexcept { return kind == DatasetKind::partitioned; }
    /// Where partition `name` of this dataset lives (a plain string: this runs once per
    /// partition and file, and a std::filesystem::path would parse it into components).
    std::string partition_path(std::string_view partition) const;
};

/// The partition names of a partitioned dataset, sorted (byte order), so every process sees the
/// same order; Dataset::partition_path() gives each one's file. Symbolic links to files and
/// folders are followed. Throws StateError when the folder is missing or unreadable.
std::vector<std::string> list_partitions(const Dataset& dataset);

/// The partitions of a folder and the stamps of their files, as one walk found them: names in
/// byte order, stamps[i] for names[i] (empty when the scan did not stat). Two plain vectors: a
/// million partitions cost their names and 24 bytes each, nothing more.
struct PartitionScan {
    std::vector<std::string> names;
    std::vector<FileStamp> stamps;
    bool followed_links = false;  ///< the walk went through a symbolic link (no event tells what changes behind one)
};
/// Like list_partitions(), with each file's stamp (one fstatat per file during the walk). A
/// missing folder is an empty dataset when `missing_ok` (an output not written yet). With
/// `temporaries`, also collects the paths of AtomicFile temporaries met on the way, so that one
/// walk both scans an output folder and finds what interrupted writers left.
/// Without `with_stamps`, nothing is stat'ed and every stamp is left "missing".
PartitionScan scan_partitions(const Dataset& dataset, bool missing_ok = false, std::vector<std::string>* temporaries = nullptr,
                              bool with_stamps = true);

/// The partitions (with stamps) under one folder of a partitioned dataset, named from the
/// dataset's root: `folder` "a/b" gives "a/b/x" for the file a/b/x<suffix>. What a watched scan
/// (watched_scan.hpp) walks again when the kernel says a folder changed.
PartitionScan scan_partitions_under(const Dataset& dataset, const std::string& folder);

class Catalog {
public:
    /// Adds a dataset; throws std::invalid_argument if the name is taken.
    void add(Dataset dataset);
    bool contains(std::string_view name) const;
    const Dataset& at(std::string_view name) const;  ///< throws std::out_of_range
    const std::map<std::string, Dataset, std::less<>>& all() const noexcept { return datasets_; }
    std::vector<std::string> names() const;

private:
    std::map<std::string, Dataset, std::less<>> datasets_;
};

}  // namespace steppar
