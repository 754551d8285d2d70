#!/usr/bin/env bash
# The pipeline folder on a network filesystem: sshfs over OpenSSH's sftp-server on loopback (the
# filesystem this project's multi-node clusters share, as this kernel has no NFS), mounted with
# the options README "Shared filesystems" asks for. An input appended on the file server is seen
# by the very next run (no attribute cache says "up to date"), the state folder and its locks
# live on the mount, and the outputs equal a clean sequential run on local disk. Skips (77)
# without root, FUSE, sshfs, sftp-server or socat.
set -euo pipefail
host=$1
sftp=/usr/lib/openssh/sftp-server
if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ] || ! command -v sshfs >/dev/null || ! command -v socat >/dev/null || [ ! -x $sftp ]; then
  echo "no sshfs here: skipped"; exit 77
fi
work=$(mktemp -d /tmp/steppar-sharedfs-XXXXXX)
port=$((20000 + RANDOM % 20000))
socat TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,nodelay EXEC:$sftp &
server=$!
cleanup() {
  fusermount -u "$work/mnt" 2>/dev/null || true
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/export/docs" "$work/mnt" "$work/clean"
for i in 1 2 3 4 5; do echo "doc $i" > "$work/export/docs/d$i.txt"; done
cat > "$work/export/pipeline.yml" <<YAML
plugins: {builtin: steppar_builtin}
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
nodes:
  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 2}
YAML
for _ in $(seq 50); do
  sshfs -o directport=$port,dir_cache=no,attr_timeout=0,entry_timeout=0 127.0.0.1:"$work/export" "$work/mnt" 2>/dev/null && break
  sleep 0.1
done
mountpoint -q "$work/mnt" || { echo "sshfs would not mount here: skipped"; exit 77; }

"$host" run "$work/mnt/pipeline.yml" -q
echo "appended on the file server" >> "$work/export/docs/d2.txt"   # behind the client's back
"$host" run "$work/mnt/pipeline.yml" 2> "$work/err"
cat "$work/err"
grep -q "count: 0 new, 1 changed, 4 up to date" "$work/err"
echo "a new file" > "$work/export/docs/d6.txt"
rm "$work/export/docs/d1.txt"
"$host" run "$work/mnt/pipeline.yml" 2> "$work/err"
grep -q "count: 1 new, 0 changed, 4 up to date, 1 retracted" "$work/err"
cp -r "$work/export/docs" "$work/export/pipeline.yml" "$work/clean/"
"$host" run "$work/clean/pipeline.yml" --runner sequential -q
diff -r "$work/export/out" "$work/clean/out"
echo "shared filesystem (sshfs): changes on the server are seen at once: OK"
