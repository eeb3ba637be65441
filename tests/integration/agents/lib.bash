# (Not named *.sh: the integration runner runs every *.sh.)
# Shared set-up for the agents' integration tests: the two-machine lab with
# splitvirt-hostd in `host` (supervising qtfsd, udsproxyd, rexec_server) and
# splitvirt-dpud in `dpu` (supervising its udsproxyd and two qtfs mounts),
# linked in test mode (tcp:) or over tls: with certificates made for the run.
# Source after tap.sh and lab.sh.
#
#   agents_up [tcp|tls]    brings everything up; sets DPUD_PID, HOSTD_PID
#   sv ARGS...             runs the splitvirt CLI in the dpu namespace
#   guest_xml NAME TEST [EXTRA_XML]   a domain XML for the test guest (sv.test=TEST)
#   host_vm_pid NAME       the splitvm pid on the host (from its pidfile), or nothing
#   wait_state NAME STATE [SECS]
AG_IMAGES=/var/lib/splitvirt/images
AG_RUN=/run/splitvirt/vms
AG_GUEST_SRC=$SV_BUILD/vmm/guests/guest.bzImage
AG_TMP=$(mktemp -d /tmp/sv-agents.XXXXXX)
# Extra splitvm words for dpu.conf's splitvm_args (none: splitvm runs with its seccomp filter).
: "${AG_SPLITVM_ARGS=}"
at_cleanup "rm -rf '$AG_TMP'"

sv() { on_dpu "$SV_BIN/splitvirt" "$@"; }

# Everything the agents need exists in this build?
agents_require() {
	local b
	for b in splitvirt-dpud splitvirt splitvirt-hostd splitvirt-netctl splitvm rexec rexec_server \
		udsproxyd qtfsd qtfs; do
		[ -x "$SV_BIN/$b" ] || { echo "missing $SV_BIN/$b"; return 1; }
	done
	[ -f "$AG_GUEST_SRC" ] || { echo "missing $AG_GUEST_SRC"; return 1; }
	[ -c /dev/kvm ] || { echo "no /dev/kvm"; return 1; }
}

agents_make_certs() {
	local d=$AG_TMP/tls
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=splitvirt-test-ca \
		-keyout "$d/ca.key" -out "$d/ca.crt" >/dev/null 2>&1
	for side in host dpu client; do
		openssl req -newkey rsa:2048 -nodes -subj "/CN=$side" -keyout "$d/$side.key" \
			-out "$d/$side.csr" >/dev/null 2>&1
		printf 'subjectAltName=IP:10.77.0.1,IP:10.77.0.2,DNS:localhost\n' >"$d/$side.ext"
		openssl x509 -req -in "$d/$side.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
			-CAcreateserial -days 2 -extfile "$d/$side.ext" -out "$d/$side.crt" >/dev/null 2>&1
	done
	chmod 0644 "$d"/*.crt
	chmod 0600 "$d"/*.key
}

# $1: tcp or tls. Writes host.conf and dpu.conf into $AG_TMP.
agents_write_configs() {
	local mode=$1 H=$HOST_ADDR D=$DPU_ADDR tm="" extra="${AG_SPLITVM_ARGS:-}"
	AG_MODE=$mode
	[ "$mode" = tcp ] && tm=--test-mode
	cat >"$AG_TMP/host.conf" <<-CONF
	[hostd]
	run_dir = $AG_RUN
	image_dirs = $AG_IMAGES
	[rexec]
	whitelist = /run/splitvirt/rexec.whitelist
	splitvm = $SV_BIN/splitvm
	netctl = $SV_BIN/splitvirt-netctl
	[child.rexec_server]
	exec = $SV_BIN/rexec_server --listen $mode:$H:7201 $tm
	args = --whitelist /run/splitvirt/rexec.whitelist
	$(tls_args host)
	[child.udsproxyd]
	exec = $SV_BIN/udsproxyd --listen $mode:$H:7301 --peer $mode:$D:7301 $tm
	args = --allow /run/splitvirt/udsproxy.allow
	args = --control /run/udsproxy/udsproxy.sock --conf-dir /run/udsproxy
	$(tls_args host)
	ready = /run/udsproxy/udsproxy.sock
	[child.qtfsd]
	exec = $SV_BIN/qtfsd -l $mode:$H:7401 $tm -e $AG_IMAGES -e $AG_RUN
	$(tls_args host)
	CONF
	cat >"$AG_TMP/dpu.conf" <<-CONF
	[dpud]
	listen = unix:/run/splitvirt/dpud.sock
	remote_listen = $([ "$mode" = tls ] && echo "tls:$D:7100")
	shutdown_timeout = ${AG_SHUTDOWN_TIMEOUT:-5}
	test_mode = $([ "$mode" = tcp ] && echo yes || echo no)
	[host]
	exec = rexec
	rexec = $SV_BIN/rexec
	rexec_server = $mode:$H:7201
	socket = udsproxy
	udsproxy_socket = /run/udsproxy/udsproxy.sock
	splitvm = $SV_BIN/splitvm
	splitvm_args = $extra
	netctl = $SV_BIN/splitvirt-netctl
	[tls]
	cert = $([ "$mode" = tls ] && echo "$AG_TMP/tls/dpu.crt")
	key = $([ "$mode" = tls ] && echo "$AG_TMP/tls/dpu.key")
	ca = $([ "$mode" = tls ] && echo "$AG_TMP/tls/ca.crt")
	[child.udsproxyd]
	exec = $SV_BIN/udsproxyd --listen $mode:$D:7301 --peer $mode:$H:7301 $tm
	args = --control /run/udsproxy/udsproxy.sock --conf-dir /run/udsproxy
	$(tls_args dpu)
	ready = /run/udsproxy/udsproxy.sock
	[child.qtfs-images]
	exec = $SV_BIN/qtfs -f $AG_IMAGES $AG_IMAGES
	$(qtfs_args)
	[child.qtfs-run]
	exec = $SV_BIN/qtfs -f $AG_RUN $AG_RUN
	$(qtfs_args)
	CONF
}

# "args = --tls-cert ..." lines for a child on side $1 (nothing in tcp mode).
tls_args() {
	[ "$AG_MODE" = tls ] || return 0
	echo "args = --tls-cert $AG_TMP/tls/$1.crt --tls-key $AG_TMP/tls/$1.key"
	echo "args = --tls-ca $AG_TMP/tls/ca.crt"
}
qtfs_args() {
	if [ "$AG_MODE" = tcp ]; then
		echo "args = -o server=tcp:$HOST_ADDR:7401,test_mode"
	else
		echo "args = -o server=tls:$HOST_ADDR:7401,tls_ca=$AG_TMP/tls/ca.crt"
		echo "args = -o tls_cert=$AG_TMP/tls/dpu.crt,tls_key=$AG_TMP/tls/dpu.key"
	fi
}

# True once the qtfs mount at $1 is up in the dpu namespace.
dpu_mounted() { on_dpu sh -c "grep -q ' $1 fuse' /proc/self/mounts"; }

# Run it directly (not inside $(...): the daemons it starts would hold the pipe open).
agents_up() {
	local mode=${1:-tcp}
	lab_up || return 1
	[ "$mode" = tls ] && agents_make_certs
	agents_write_configs "$mode"
	on_host sh -c "mkdir -p $AG_IMAGES $AG_RUN /run/udsproxy && echo $AG_RUN > /run/splitvirt/udsproxy.allow && chmod 0644 /run/splitvirt/udsproxy.allow && cp $AG_GUEST_SRC $AG_IMAGES/guest.bzImage"
	on_dpu mkdir -p $AG_IMAGES $AG_RUN /run/udsproxy
	lab_bg host "$SV_BIN/splitvirt-hostd" -f "$AG_TMP/host.conf" -D "$AG_TMP/hostd.log"
	HOSTD_PID=$LAB_BG_PID
	wait_for 10 on_host test -S /run/udsproxy/udsproxy.sock || { echo "hostd children did not come up"; cat "$AG_TMP/hostd.log"; return 1; }
	# qtfsd listening?
	wait_for 10 on_host sh -c "ss -ltn | grep -q ':7401 '" || { echo "qtfsd not listening"; return 1; }
	agents_start_dpud "$mode"
}

agents_start_dpud() {
	lab_bg dpu "$SV_BIN/splitvirt-dpud" -f "$AG_TMP/dpu.conf" -D "$AG_TMP/dpud.log"
	DPUD_PID=$LAB_BG_PID
	wait_for 15 on_dpu test -S /run/splitvirt/dpud.sock || { echo "dpud did not come up"; tail -20 "$AG_TMP/dpud.log"; return 1; }
	wait_for 10 dpu_mounted $AG_RUN || { echo "qtfs run mount missing"; tail -20 "$AG_TMP/dpud.log"; return 1; }
	wait_for 10 dpu_mounted $AG_IMAGES || { echo "qtfs images mount missing"; return 1; }
}

# guest_xml NAME TEST [EXTRA] : domain XML on stdout.
guest_xml() {
	cat <<-XML
	<domain type='kvm'>
	  <name>$1</name>
	  <memory unit='MiB'>128</memory>
	  <vcpu>1</vcpu>
	  <os><type arch='x86_64'>hvm</type><kernel>$AG_IMAGES/guest.bzImage</kernel>
	    <cmdline>console=ttyS0 sv.test=$2</cmdline></os>
	  ${3:-}
	  <devices><serial type='pty'/></devices>
	</domain>
	XML
}

define_guest() { # NAME TEST [EXTRA]
	guest_xml "$@" >"$AG_TMP/$1.xml"
	sv define "$AG_TMP/$1.xml" >/dev/null
}

host_vm_pid() {
	local p
	p=$(on_host cat "$AG_RUN/$1/pid" 2>/dev/null) || return 0
	on_host kill -0 "$p" 2>/dev/null && echo "$p"
}

# A process that exists and is not a zombie (the lab shares the pid namespace).
alive() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
# The network namespace of pid $1 is the host side's (not the DPU's).
in_host_netns() { [ "$(readlink /proc/$1/ns/net)" = "$(on_host readlink /proc/self/ns/net)" ]; }

state_of() { sv domstate "$1" 2>/dev/null | head -n1; }
wait_state() { wait_for "${3:-10}" sh -c "[ \"\$(\"$SV_ROOT/deploy/lab/lab\" exec dpu \"$SV_BIN/splitvirt\" domstate '$1' 2>/dev/null | head -n1)\" = '$2' ]"; }

# QMP query-status straight on the host (the ground truth, not dpud's view).
host_qmp_status() {
	on_host sh -c "printf '%s\n%s\n' '{\"execute\":\"qmp_capabilities\"}' '{\"execute\":\"query-status\"}' | timeout 2 socat - UNIX-CONNECT:$AG_RUN/$1/qmp.sock" 2>/dev/null |
		sed -n 's/.*"status":"\([a-z-]*\)".*/\1/p' | head -n1
}

agents_logs() {
	echo "--- hostd.log"; tail -n 30 "$AG_TMP/hostd.log" 2>/dev/null
	echo "--- dpud.log"; tail -n 30 "$AG_TMP/dpud.log" 2>/dev/null
}
