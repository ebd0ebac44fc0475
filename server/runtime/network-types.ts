// Networks in the runtime contract (container-runtime.ts): what createNetwork takes and listNetworks gives.

/** A network to create (a bridge on the engine host). */
export interface NetworkSpec {
  name: string;
  labels: Record<string, string>;
  /** No route off the network: members reach each other (and the host, through the gateway address). */
  internal: boolean;
  /** IPv4 CIDR (the engine picks one when omitted), and its gateway address. */
  subnet?: string;
  gateway?: string;
  /** The part of the subnet handed out to members without a pinned address (a CIDR inside `subnet`). */
  ipRange?: string;
  /** Name of the host's bridge interface (at most 15 characters), so host firewall rules can name it. */
  bridgeName?: string;
}

export interface NetworkInfo {
  id: string;
  name: string;
  labels: Record<string, string>;
  internal: boolean;
  /** Its IPv4 CIDR, null when it has none. */
  subnet: string | null;
}
