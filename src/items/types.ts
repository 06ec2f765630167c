/**
 * The typed push items (pushsource's vocabulary). A discriminated union on `kind`, which holds the
 * pushsource class name. Field names and order follow pushsource's attrs order (see
 * docs: ../shared/spec/pushsource-model.md §2); `kind` is not a pushsource field and is not printed
 * by `toPushsourceShape`. Build items with the constructors in `./model.js`, which apply
 * pushsource's defaults, converters and validators.
 */

export interface KojiBuildInfo {
  name: string;
  version: string;
  release: string;
  id: number | null;
}

/** Fields every item has, first, in this order. */
export interface PushItemBase {
  name: string;
  state: string;
  src: string | null;
  dest: string[];
  md5sum: string | null;
  sha256sum: string | null;
  origin: string | null;
  build: string | null;
  build_info: KojiBuildInfo | null;
  signing_key: string | null;
}

export interface RpmPushItem extends PushItemBase {
  kind: 'RpmPushItem';
  module_build: string | null;
}

export interface FilePushItem extends PushItemBase {
  kind: 'FilePushItem';
  description: string | null;
  version: string | null;
  display_order: number | null;
}

export interface CompsXmlPushItem extends PushItemBase {
  kind: 'CompsXmlPushItem';
}

export interface ModuleMdPushItem extends PushItemBase {
  kind: 'ModuleMdPushItem';
}

export interface DirectoryPushItem extends PushItemBase {
  kind: 'DirectoryPushItem';
}

export interface CGWPushItem extends PushItemBase {
  kind: 'CGWPushItem';
}

export interface ProductId {
  id: number;
  name: string | null;
  version: string | null;
  architecture: string[] | null;
  provided_tags: string[] | null;
}

export interface ProductIdPushItem extends PushItemBase {
  kind: 'ProductIdPushItem';
  products: ProductId[];
}

export interface ErratumReference {
  href: string;
  id: string | null;
  title: string | null;
  type: string;
}

export interface ErratumModule {
  name: string;
  stream: string;
  version: string;
  context: string;
  arch: string;
}

export interface ErratumPackage {
  arch: string;
  filename: string;
  epoch: string;
  name: string;
  version: string;
  release: string;
  src: string;
  reboot_suggested: boolean;
  md5sum: string | null;
  sha1sum: string | null;
  sha256sum: string | null;
}

export interface ErratumPackageCollection {
  name: string;
  packages: ErratumPackage[];
  short: string;
  module: ErratumModule | null;
}

export type ErratumType = 'bugfix' | 'security' | 'enhancement';

export interface ErratumPushItem extends PushItemBase {
  kind: 'ErratumPushItem';
  type: ErratumType;
  release: string;
  status: string;
  pushcount: string;
  reboot_suggested: boolean;
  references: ErratumReference[];
  pkglist: ErratumPackageCollection[];
  container_list: Array<Record<string, unknown>>;
  from: string | null;
  rights: string | null;
  title: string | null;
  description: string | null;
  version: string;
  updated: string | null;
  issued: string | null;
  severity: string | null;
  summary: string | null;
  solution: string | null;
  content_types: string[];
}

/** VMIRelease / AmiRelease (same shape). `date` is printed as pushsource prints a date: YYYY-MM-DD. */
export interface VMIRelease {
  product: string;
  date: string;
  arch: string;
  respin: number;
  version: string | null;
  base_product: string | null;
  base_version: string | null;
  variant: string | null;
  type: string | null;
}
export type AmiRelease = VMIRelease;

export interface VMICloudInfo {
  provider: string;
  account: string;
}

export type BootMode = 'hybrid' | 'uefi' | 'legacy';

export interface AmiBillingCodes {
  name: string;
  codes: string[];
}

export interface AmiAccessEndpointUrl {
  port: number;
  protocol: string;
}

/** Fields shared by AMI and VHD items (pushsource's VMIPushItem), after the base fields. */
export interface VMIFields {
  release: VMIRelease | null;
  description: string;
  boot_mode: BootMode | null;
  cloud_info: VMICloudInfo | null;
  marketplace_title_template: string | null;
  marketplace_name: string | null;
}

export interface AmiPushItem extends PushItemBase, VMIFields {
  kind: 'AmiPushItem';
  type: string | null;
  region: string | null;
  virtualization: string | null;
  volume: string | null;
  root_device: string | null;
  sriov_net_support: string | null;
  ena_support: boolean | null;
  uefi_support: boolean | null;
  billing_codes: AmiBillingCodes | null;
  release_notes: string | null;
  usage_instructions: string | null;
  recommended_instance_type: string | null;
  marketplace_entity_type: string | null;
  image_id: string | null;
  public_image: boolean | null;
  scanning_port: number | null;
  user_name: string | null;
  version_title: string | null;
  security_groups: unknown[];
  access_endpoint_url: AmiAccessEndpointUrl | null;
}

export interface VHDPushItem extends PushItemBase, VMIFields {
  kind: 'VHDPushItem';
  generation: 'V1' | 'V2' | null;
  sku_id: string | null;
  support_legacy: boolean;
  legacy_sku_id: string | null;
  disk_version: string | null;
  recommended_sizes: string[];
  sas_uri: string | null;
}

export type PushItem =
  | RpmPushItem
  | ErratumPushItem
  | FilePushItem
  | CompsXmlPushItem
  | ModuleMdPushItem
  | ProductIdPushItem
  | CGWPushItem
  | AmiPushItem
  | VHDPushItem
  | DirectoryPushItem;

export type PushItemKind = PushItem['kind'];

/** Every kind, in the order `ls` sorts types (within a destination). */
export const ITEM_KINDS: readonly PushItemKind[] = [
  'RpmPushItem',
  'ErratumPushItem',
  'FilePushItem',
  'CompsXmlPushItem',
  'ModuleMdPushItem',
  'ProductIdPushItem',
  'CGWPushItem',
  'AmiPushItem',
  'VHDPushItem',
  'DirectoryPushItem',
];

export type ItemOfKind<K extends PushItemKind> = Extract<PushItem, { kind: K }>;
