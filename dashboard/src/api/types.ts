// The netguard.v1 messages as the HTTP face returns them (protobuf JSON mapping: lowerCamelCase,
// 64-bit integers as strings, enums as names, timestamps as RFC 3339 strings).

export type Severity =
  'SEVERITY_UNSPECIFIED' | 'SEVERITY_INFO' | 'SEVERITY_WARNING' | 'SEVERITY_HIGH' | 'SEVERITY_CRITICAL';

export type Feedback = 'FEEDBACK_UNSPECIFIED' | 'FEEDBACK_TRUE_POSITIVE' | 'FEEDBACK_FALSE_POSITIVE';

export interface InterfaceStatus {
  name: string;
  ifindex: number;
  backend: string;
  xdpMode: string;
  tcEgress: boolean;
}

export interface AgentStatus {
  version: string;
  started?: string;
  uptimeSeconds: string;
  interfaces: InterfaceStatus[];
  counters: Record<string, string>;
  ringDrops: string;
  flowInsertFailures: string;
  queueOverflows: string;
  flowsEvicted: string;
  coverageDegraded: boolean;
  activeModel: string;
  storedFlows: string;
  activeBlocks: string;
}

export interface Alert {
  id: string;
  time?: string;
  srcAddr: string;
  srcPort: number;
  dstAddr: string;
  dstPort: number;
  protocol: string;
  alertClass: string;
  score: number;
  severity: Severity;
  mitreTechnique: string;
  detector: string;
  evidenceJson: string;
  degradedCoverage: boolean;
  acknowledged: boolean;
  feedback: Feedback;
}

export interface Flow {
  id: string;
  start?: string;
  end?: string;
  srcAddr: string;
  srcPort: number;
  dstAddr: string;
  dstPort: number;
  protocol: string;
  fwdPackets: string;
  bwdPackets: string;
  fwdBytes: string;
  bwdBytes: string;
  endReason: string;
  ifindex: number;
}

export interface BlockEntry {
  prefix: string;
  reason: string;
  automatic: boolean;
  created?: string;
  expires?: string;
  alertIds: string[];
  packets: string;
  bytes: string;
  enforced: boolean;
  dryRun?: boolean; // a "would block" record of the auto-block policy in dry-run: blocks nothing
}

export interface ClassMetrics {
  name: string;
  mitreTechnique: string;
  threshold: number;
  precision: number;
  recall: number;
  f1: number;
  support: string;
}

export interface ModelInfo {
  loaded: boolean;
  name: string;
  path: string;
  featureMode: string;
  features: string[];
  classes: ClassMetrics[];
  labels: string[];
  confusion: string[];
  macroF1: number;
  benignFalsePositiveRate: number;
  importances: { feature: string; importance: number }[];
  anomalyThreshold: number;
  provenanceJson: string;
  loadedAt?: string;
  error: string;
}

export interface IpInfo {
  address: string;
  score: number;
  verdict: string;
  allowlisted: boolean;
  listedMalicious: boolean;
  alertCount: string;
  firstSeen?: string;
  lastSeen?: string;
  recentAlerts: Alert[];
  recentFlows: Flow[];
  block?: BlockEntry;
  blocked: boolean;
  offences: number;
}

export interface CountryInfo {
  address: string;
  countryCode: string;
  countryName: string;
  local: boolean;
}

export interface LookupCountriesResponse {
  countries: CountryInfo[];
  database: string; // the database in use ("" when none opened)
  databaseError?: string; // why a configured database is not in use
}

export interface ListAlertsResponse {
  alerts: Alert[];
  nextPageToken: string;
}

export interface ListFlowsResponse {
  flows: Flow[];
  nextPageToken: string;
}

export interface ListBlocksResponse {
  blocks: BlockEntry[];
}
