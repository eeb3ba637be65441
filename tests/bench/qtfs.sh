#!/usr/bin/env bash
# qtfs benchmark, one run in the lab: the same workloads on a qtfs mount (qtfsd in the host
# namespace, client in the dpu namespace, tcp test mode and tls), on sshfs (OpenSSH sshd
# started here in the host namespace with generated keys) and on the local directory.
#   fio sequential read and write, 1 MiB blocks, O_DIRECT, 6 s each (QTFS_BENCH_MB file, 256)
#   fio 4 KiB random read IOPS, O_DIRECT, 4 jobs, 6 s
#   metadata: create, stat, unlink of 10,000 files; extracting a tarball of /usr/include
# qtfs is measured over tcp test mode (qtfs), TLS (qtfs-tls) and, over tcp, with 1 s
# attribute/entry caching (qtfs-c1) instead of the default 20 s (which sshfs uses too), to
# show what the stricter coherence setting costs. Prints a table and the ratios against sshfs.
# Targets: >= 2x sshfs sequential, >= 3x metadata.
source "$(dirname "$0")/../lib/tap.sh"
source "$SV_ROOT/tests/lib/lab.sh"

MB=${QTFS_BENCH_MB:-256}
NFILES=${QTFS_BENCH_FILES:-10000}
T=$(mktemp -d /tmp/qtfs-bench.XXXXXX)
chmod 755 "$T"
at_cleanup "rm -rf '$T'"
# Every filesystem here stores its files in the same place, a tmpfs by default, so that the
# figures compare the protocols rather than the disk: this machine's root filesystem is
# ext4 without a journal, whose inode allocator rescans every inode freed in the last
# seconds (the bench frees tens of thousands), which made create/tar times mostly that.
# QTFS_BENCH_STORE=disk keeps them on /tmp instead.
if [ "${QTFS_BENCH_STORE:-tmpfs}" = tmpfs ]; then
	mount -t tmpfs -o size=6g,mode=755 qtfs-bench "$T" || exit 1
	at_cleanup "umount -l '$T'"
fi
for b in "$SV_BIN/qtfsd" "$SV_BIN/qtfs"; do
	[ -x "$b" ] || { echo "qtfs bench: $b not built" >&2; exit 1; }
done
for t in fio sshfs /usr/sbin/sshd; do
	command -v "$t" >/dev/null || { echo "qtfs bench: $t missing (make deps)" >&2; exit 1; }
done

EXP=$T/export
mkdir -p "$EXP" "$T/local" "$T/m-qtfs" "$T/m-tls" "$T/m-c1" "$T/m-sshfs"
tar -C /usr -cf "$T/src.tar" include 2>/dev/null
ntar=$(tar -tf "$T/src.tar" | wc -l)

lab_up >/dev/null
PORT=7650
# qtfsd: tcp test mode and tls
(
	cd "$T"
	ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
	openssl req -x509 $ec -days 2 -subj /CN=bench-ca -keyout ca.key -out ca.crt
	for s in host dpu; do
		openssl req $ec -subj "/CN=$s" -keyout $s.key -out $s.csr
		openssl x509 -req -in $s.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out $s.crt
	done
) >/dev/null 2>&1
lab_bg host "$SV_BIN/qtfsd" -e "$EXP" -l "tcp:$HOST_ADDR:$PORT" --test-mode \
	-l "tls:$HOST_ADDR:$((PORT + 1))" --tls-cert "$T/host.crt" --tls-key "$T/host.key" \
	--tls-ca "$T/ca.crt" --handle-key "$T/handle.key" -w 4 -D "$T/qtfsd.log"
wait_for 10 grep -q "listening on tls" "$T/qtfsd.log" || { cat "$T/qtfsd.log"; exit 1; }
on_dpu "$SV_BIN/qtfs" -o "server=tcp:$HOST_ADDR:$PORT,test_mode" "$EXP" "$T/m-qtfs" || exit 1
at_cleanup "on_dpu umount -l '$T/m-qtfs'"
on_dpu "$SV_BIN/qtfs" -o "server=tls:$HOST_ADDR:$((PORT + 1)),tls_cert=$T/dpu.crt,tls_key=$T/dpu.key,tls_ca=$T/ca.crt" \
	"$EXP" "$T/m-tls" || exit 1
at_cleanup "on_dpu umount -l '$T/m-tls'"
# the same with 1 s attribute/entry caching (the stricter coherence setting) instead of 20 s
on_dpu "$SV_BIN/qtfs" -o "server=tcp:$HOST_ADDR:$PORT,test_mode,attr_timeout=1,entry_timeout=1" \
	"$EXP" "$T/m-c1" || exit 1
at_cleanup "on_dpu umount -l '$T/m-c1'"

# sshd in the host namespace, root login with a generated key only
ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$T/userkey"
cat >"$T/sshd_config" <<CFG
ListenAddress $HOST_ADDR:2222
HostKey $T/hostkey
PermitRootLogin prohibit-password
AuthorizedKeysFile $T/userkey.pub
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
PidFile $T/sshd.pid
CFG
on_host mkdir -p /run/sshd
lab_bg host /usr/sbin/sshd -D -e -f "$T/sshd_config"
wait_for 10 on_dpu bash -c "exec 3<>/dev/tcp/$HOST_ADDR/2222" || { echo "sshd did not start" >&2; exit 1; }
on_dpu sshfs -p 2222 -o "IdentityFile=$T/userkey,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,LogLevel=ERROR" \
	"root@$HOST_ADDR:$EXP" "$T/m-sshfs" || { echo "sshfs mount failed" >&2; exit 1; }
at_cleanup "on_dpu umount -l '$T/m-sshfs'"

fio_bw() { # DIR RW BS -> MiB/s (or IOPS for randread)
	local dir=$1 rw=$2 bs=$3 extra=() out
	[ "$rw" = randread ] && extra=(--numjobs=4 --group_reporting)
	out=$(on_dpu fio --name=b --directory="$dir" --filename=fio.dat --rw="$rw" --bs="$bs" \
		--size="${MB}M" --direct=1 --ioengine=psync --output-format=terse --terse-version=3 \
		--runtime=6 --time_based \
		"${extra[@]}" 2>/dev/null | tail -n1)
	# terse v3: field 7 read bw KiB/s, 8 read iops, 48 write bw KiB/s
	case $rw in
	read) awk -F';' '{printf "%.0f", $7/1024}' <<<"$out" ;;
	write) awk -F';' '{printf "%.0f", $48/1024}' <<<"$out" ;;
	randread) awk -F';' '{printf "%.0f", $8}' <<<"$out" ;;
	esac
}

tar_rate() { # DIR -> files/s
	local dir=$1 t0 t1
	on_dpu rm -rf "$dir/x"
	on_dpu mkdir -p "$dir/x"
	t0=$(date +%s%N)
	on_dpu tar -C "$dir/x" -xf "$T/src.tar"
	t1=$(date +%s%N)
	on_dpu rm -rf "$dir/x"
	awk -v n="$ntar" -v d=$((t1 - t0)) 'BEGIN{printf "%.0f", n / (d / 1e9)}'
}

declare -A R
dir_of() {
	case $1 in
	local) echo "$T/local" ;;
	qtfs) echo "$T/m-qtfs/$1" ;;
	tls) echo "$T/m-tls/$1" ;;
	c1) echo "$T/m-c1/$1" ;;
	sshfs) echo "$T/m-sshfs/$1" ;;
	esac
}
FSES=(local qtfs tls c1 sshfs)
ROUNDS=${QTFS_BENCH_ROUNDS:-3}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
# every filesystem is measured once per round, in an order rotated each round, and the
# median of the rounds is reported: this machine is shared, and a workload measured only
# while it happened to be busy would otherwise decide the ratio
declare -A S
for ((r = 0; r < ROUNDS; r++)); do
	for ((i = 0; i < ${#FSES[@]}; i++)); do
		fs=${FSES[(i + r) % ${#FSES[@]}]}
		dir=$(dir_of "$fs")
		on_dpu mkdir -p "$dir"
		S[$fs,write]+=" $(fio_bw "$dir" write 1M)"
		S[$fs,read]+=" $(fio_bw "$dir" read 1M)"
		S[$fs,rand]+=" $(fio_bw "$dir" randread 4k)"
		on_dpu rm -f "$dir/fio.dat"
		# metadata after the host has written back what fio left dirty
		sync
		read -r c st u <<<"$(on_dpu python3 "$SV_ROOT/tests/bench/qtfs_meta.py" "$dir/meta" "$NFILES")"
		S[$fs,create]+=" $c" S[$fs,stat]+=" $st" S[$fs,unlink]+=" $u"
		sync
		S[$fs,tar]+=" $(tar_rate "$dir")"
	done
done
for fs in "${FSES[@]}"; do
	for k in write read rand create stat unlink tar; do
		# shellcheck disable=SC2086
		R[$fs,$k]=$(median ${S[$fs,$k]})
	done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
echo "qtfs bench: fio on $MB MiB files for 6 s each, $NFILES files, tarball of /usr/include ($ntar entries);"
echo "files stored on ${QTFS_BENCH_STORE:-tmpfs} (QTFS_BENCH_STORE=tmpfs|disk) for every filesystem measured"
echo "one run of $ROUNDS rounds, medians; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-26s %9s %9s %9s %9s %9s %11s %10s %10s\n' metric local qtfs qtfs-tls qtfs-c1 sshfs qtfs/sshfs tls/sshfs c1/sshfs
for m in "write:seq write 1M MiB/s" "read:seq read 1M MiB/s" "rand:randread 4k IOPS" \
	"create:create files/s" "stat:stat files/s" "unlink:unlink files/s" "tar:tar -x files/s"; do
	k=${m%%:*}
	printf '%-26s %9s %9s %9s %9s %9s %11s %10s %10s\n' "${m#*:}" "${R[local,$k]}" "${R[qtfs,$k]}" \
		"${R[tls,$k]}" "${R[c1,$k]}" "${R[sshfs,$k]}" "$(ratio "${R[qtfs,$k]}" "${R[sshfs,$k]}")" \
		"$(ratio "${R[tls,$k]}" "${R[sshfs,$k]}")" "$(ratio "${R[c1,$k]}" "${R[sshfs,$k]}")"
done
