#!/usr/bin/env bash
# Starts a Slurm cluster of N nodes on this one machine, for trying steppar beyond one node and for
# its tests: slurmctld on a private bridge, and N slurmd, each in a network namespace of its own
# (its own address on the bridge) with its own mount namespace and hostname. The folder SHARED is
# served over the bridge by OpenSSH's sftp-server and mounted with sshfs at the same path in every
# node (a network filesystem: this kernel has no NFS), so every node has its own client cache.
# Needs root and Debian's slurmctld slurmd slurm-client munge sshfs openssh-sftp-server socat
# iproute2. Only addresses inside the namespaces it creates are used; stop-multi.sh DIR undoes
# everything by the pids and names it recorded.
#
#   eval "$(tools/slurm-local/start-multi.sh /tmp/cluster 3 /srv/pipelines)"   # export SLURM_CONF=...
set -euo pipefail
dir=$(realpath -m "${1:?usage: start-multi.sh DIR NODES SHARED}")
nodes=${2:?usage: start-multi.sh DIR NODES SHARED}
shared=$(realpath -m "${3:?usage: start-multi.sh DIR NODES SHARED}")
[ "$nodes" -ge 1 ] && [ "$nodes" -le 9 ] || { echo "NODES must be 1 to 9" >&2; exit 2; }
sftp=/usr/lib/openssh/sftp-server
tag=$(printf '%s' "$dir" | sha256sum | cut -c1-6)   # names of this cluster's links and namespaces
bridge=spbr$tag
subnet=10.213.$((16#${tag:0:2} % 200 + 20))   # a /24 of its own, from the folder's name
mkdir -p "$dir"/{state,spool,log,run,export} "$shared"
echo "$tag $nodes $shared" > "$dir/run/cluster"

# The network: a bridge holding the controller's address, one veth pair per node.
ip link add "$bridge" type bridge
ip addr add "$subnet.1/24" dev "$bridge"
ip link set "$bridge" up
for n in $(seq 1 "$nodes"); do
  ns=sp$tag-node$n
  ip netns add "$ns"
  ip link add "v$tag$n" type veth peer name eth0 netns "$ns"
  ip link set "v$tag$n" master "$bridge" up
  ip -n "$ns" addr add "$subnet.1$n/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
done

source "$(dirname "$0")/common.sh"
start_munge "$dir"

# The file server: sftp-server behind socat on the bridge address (nodelay: no 40 ms per operation),
# in a process group of its own: stop-multi.sh ends it with the socat and sftp-server it forked for
# each connection.
port=$((20000 + 16#${tag:2:3} % 20000))
setsid socat TCP-LISTEN:$port,bind=$subnet.1,reuseaddr,fork,nodelay EXEC:$sftp > "$dir/log/fileserver.log" 2>&1 &
echo $! > "$dir/run/fileserver.pid"

cat > "$dir/slurm.conf" <<CONF
ClusterName=steppar$tag
SlurmctldHost=$(hostname -s)($subnet.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
SlurmctldPort=16917
SlurmdPort=16918
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
SlurmdTimeout=10
FirstJobId=500000
$(common_slurm_conf)
NodeName=node[1-$nodes] NodeAddr=$subnet.1[1-$nodes] CPUs=1 State=UNKNOWN
PartitionName=debug Nodes=node[1-$nodes] Default=YES MaxTime=INFINITE State=UP
CONF
# NodeAddr ranges expand digit by digit: node1 -> .11, node2 -> .12, ... Job ids start at 500000,
# apart from start.sh's cluster (other ports, munge socket and folders): the tests run both at
# once, and name a job's steps by its id.
export SLURM_CONF=$dir/slurm.conf
/usr/sbin/slurmctld -f "$SLURM_CONF"

# The login node (this machine) and every compute node mount the share at the same path.
mount_share() {  # run inside the namespaces that should see the share
  for _ in $(seq 50); do
    sshfs -o "directport=$port,dir_cache=no,attr_timeout=0,entry_timeout=0" "$subnet.1:$dir/export" "$shared" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
mount_share || { echo "cannot mount the share at $shared" >&2; exit 1; }
for n in $(seq 1 "$nodes"); do
  ns=sp$tag-node$n
  # A mount namespace of its own (the login node's sshfs mount is replaced by the node's own
  # client), its own hostname, then slurmd in the foreground of that shell's process tree.
  nsenter --net="/run/netns/$ns" unshare --mount --uts --propagation private bash -c "
    hostname node$n
    umount -l '$shared' 2>/dev/null || true
    $(declare -f mount_share); port=$port subnet=$subnet dir='$dir' shared='$shared' mount_share
    exec /usr/sbin/slurmd -D -N node$n -f '$SLURM_CONF'
  " > "$dir/log/node$n.out" 2>&1 &
  echo $! > "$dir/run/node$n.pid"
done
for _ in $(seq 1 300); do
  if [ "$(sinfo -h -o %T 2>/dev/null | grep -c -E '^(idle|mixed|allocated)')" -ge 1 ] &&
     [ "$(sinfo -h -N -o '%N %T' 2>/dev/null | grep -c -E 'idle|mixed|allocated')" -eq "$nodes" ]; then
    echo "export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.1
done
echo "the $nodes nodes did not come up; see $dir/log" >&2
exit 1
