/* vcpu: one host thread per vCPU running KVM_RUN, dispatching I/O exits to the buses and
 * parking on request (pause, reset, shutdown). */
#ifndef SV_VMM_VCPU_H
#define SV_VMM_VCPU_H

#include "errmsg.h"
#include "machine.h"

/* KVM_CREATE_VCPU, maps kvm_run, arch_vcpu_init. Main thread. */
int vcpu_create(struct machine *m, uint32_t index, struct errmsg *e);
/* Starts the thread (it parks first if m->stop_vcpus) and returns once the thread has
 * finished its start-up. 0 or -errno. */
int vcpu_start(struct vcpu *v);
/* Makes a running KVM_RUN return (m->lock held): the thread then checks stop/quit. */
void vcpu_kick(struct vcpu *v);
/* Waits for the thread after m->quit_vcpus was set. */
void vcpu_join(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);

#endif
