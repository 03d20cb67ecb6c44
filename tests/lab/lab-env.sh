# shellcheck shell=bash disable=SC2034  # variables used by the scripts that source this file
# lab-env.sh - names and addresses of the traffic lab, sourced by lab.sh, scenarios.sh and
# dataset.sh (not executable on its own).
#
# LAB_PREFIX names the namespaces ("ngl" by default), so two labs (the dataset run and the e2e
# test) can be up at once; links live inside the namespaces, so their names are fixed.
# LAB_DIR holds generated configuration, service logs and the web root (outside the repo).

LAB_PREFIX=${LAB_PREFIX:-ngl}
LAB_DIR=${LAB_DIR:-/tmp/$LAB_PREFIX-lab}
LAB_RUN=$LAB_DIR/run

# Namespaces by role.
NS_LAN=$LAB_PREFIX-lan         # the L2 switch (bridge) of the LAN side
NS_SENSOR=$LAB_PREFIX-sensor   # router between LAN and victim; the capture point
NS_VICTIM=$LAB_PREFIX-victim   # real services
NS_ATT1=$LAB_PREFIX-att1       # attacker
NS_ATT2=$LAB_PREFIX-att2       # second attacker
NS_CLIENT=$LAB_PREFIX-cli      # benign client
LAB_NAMESPACES="$NS_LAN $NS_SENSOR $NS_VICTIM $NS_ATT1 $NS_ATT2 $NS_CLIENT"

# Addresses. Nothing outside 10.200.0.0/16 is routed anywhere: the victim has routes to the LAN
# only, so replies to spoofed sources die at its routing table.
VICTIM_IP=10.200.2.10
ATT1_IP=10.200.1.66
ATT2_IP=10.200.1.67
CLIENT_IP=10.200.1.20
SENSOR_LAN_IP=10.200.1.1
SENSOR_VIC_IP=10.200.2.1
VICTIM_NET=10.200.2.0/24
# More addresses of the victim's sshd, in a subnet of their own (no ML scenario touches it; a
# sweep of VICTIM_NET still finds one host): the hosts of the credential-spraying scenario.
FARM_NET=10.200.3.0/24
FARM_HOSTS="10.200.3.11 10.200.3.12 10.200.3.13 10.200.3.14 10.200.3.15 10.200.3.16 10.200.3.17
  10.200.3.18 10.200.3.19 10.200.3.20 10.200.3.21 10.200.3.22"
# Random-source floods are rewritten into this range (RFC 2544 benchmarking space), so the
# source address alone identifies a spoofed flow when labelling.
SPOOF_NET=198.18.0.0/15

# Interfaces (inside their namespaces). SENSOR_IF sees every packet between the LAN hosts and
# the victim, both directions: the capture point of the dataset.
SENSOR_IF=nglup0
SENSOR_VIC_IF=nglvic0
HOST_IF=ngleth0

# Lab user for sshd and vsftpd.
LAB_USER=labuser
LAB_PASS=labpass

# Run a command inside a lab namespace. nsenter (not `ip netns exec`) keeps /sys/fs/bpf visible,
# which the agent needs for its pins.
nsx() {
  local ns=$1
  shift
  nsenter --net="/run/netns/$ns" "$@"
}

ns_exists() { [ -e "/run/netns/$1" ]; }
