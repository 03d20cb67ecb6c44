// MITRE ATT&CK techniques the detectors report, with their names (offline: no lookup service).

const NAMES: Record<string, string> = {
  T1046: 'Network Service Discovery',
  T1595: 'Active Scanning',
  'T1595.001': 'Active Scanning: Scanning IP Blocks',
  'T1595.002': 'Active Scanning: Vulnerability Scanning',
  T1110: 'Brute Force',
  'T1110.001': 'Brute Force: Password Guessing',
  'T1110.003': 'Brute Force: Password Spraying',
  T1498: 'Network Denial of Service',
  'T1498.001': 'Network Denial of Service: Direct Network Flood',
  T1499: 'Endpoint Denial of Service',
  'T1499.002': 'Endpoint Denial of Service: Service Exhaustion Flood',
  T1190: 'Exploit Public-Facing Application',
  T1071: 'Application Layer Protocol',
  'T1071.004': 'Application Layer Protocol: DNS',
  T1048: 'Exfiltration Over Alternative Protocol',
  T1041: 'Exfiltration Over C2 Channel',
  T1021: 'Remote Services',
  'T1021.004': 'Remote Services: SSH',
  T1557: 'Adversary-in-the-Middle',
  'T1557.002': 'Adversary-in-the-Middle: ARP Cache Poisoning',
  T1059: 'Command and Scripting Interpreter',
  T1105: 'Ingress Tool Transfer',
  T1572: 'Protocol Tunneling',
  T1090: 'Proxy',
  T1568: 'Dynamic Resolution',
  'T1568.002': 'Dynamic Resolution: Domain Generation Algorithms',
  T1040: 'Network Sniffing',
  T1078: 'Valid Accounts',
  T1133: 'External Remote Services',
};

/** The technique's name, or '' when this dashboard does not know it. */
export function techniqueName(id: string): string {
  return NAMES[id] ?? '';
}

/** https://attack.mitre.org/techniques/T1110/001/ for T1110.001; '' for an empty id. */
export function techniqueUrl(id: string): string {
  if (!/^T\d{4}(\.\d{3})?$/.test(id)) return '';
  return `https://attack.mitre.org/techniques/${id.replace('.', '/')}/`;
}
