package mrz

import "strings"

// countryCodes lists the three-letter codes ICAO 9303 part 3 allows for
// issuing states and nationalities: the ISO 3166-1 alpha-3 codes, Germany's
// "D", and ICAO's codes for organisations, stateless persons and British
// nationality variants. A code outside this list marks the field invalid,
// which catches many misreads of the state code.
var countryCodes = func() map[string]bool {
	const iso = `ABW AFG AGO AIA ALA ALB AND ARE ARG ARM ASM ATA ATF ATG AUS AUT AZE
BDI BEL BEN BES BFA BGD BGR BHR BHS BIH BLM BLR BLZ BMU BOL BRA BRB BRN BTN BVT BWA
CAF CAN CCK CHE CHL CHN CIV CMR COD COG COK COL COM CPV CRI CUB CUW CXR CYM CYP CZE
DEU DJI DMA DNK DOM DZA ECU EGY ERI ESH ESP EST ETH FIN FJI FLK FRA FRO FSM GAB GBR
GEO GGY GHA GIB GIN GLP GMB GNB GNQ GRC GRD GRL GTM GUF GUM GUY HKG HMD HND HRV HTI
HUN IDN IMN IND IOT IRL IRN IRQ ISL ISR ITA JAM JEY JOR JPN KAZ KEN KGZ KHM KIR KNA
KOR KWT LAO LBN LBR LBY LCA LIE LKA LSO LTU LUX LVA MAC MAF MAR MCO MDA MDG MDV MEX
MHL MKD MLI MLT MMR MNE MNG MNP MOZ MRT MSR MTQ MUS MWI MYS MYT NAM NCL NER NFK NGA
NIC NIU NLD NOR NPL NRU NZL OMN PAK PAN PCN PER PHL PLW PNG POL PRI PRK PRT PRY PSE
PYF QAT REU ROU RUS RWA SAU SDN SEN SGP SGS SHN SJM SLB SLE SLV SMR SOM SPM SRB SSD
STP SUR SVK SVN SWE SWZ SXM SYC SYR TCA TCD TGO THA TJK TKL TKM TLS TON TTO TUN TUR
TUV TWN TZA UGA UKR UMI URY USA UZB VAT VCT VEN VGB VIR VNM VUT WLF WSM YEM ZAF ZMB ZWE`
	// ICAO-specific codes: Germany, British nationality variants, Kosovo,
	// EU and UN bodies, other organisations, refugees and stateless persons,
	// and the fictitious Utopia of the ICAO examples.
	const icao = `D GBD GBN GBO GBP GBS RKS EUE UNO UNA UNK XBA XIM XCC XCE XCO XEC XPO
XES XMP XOM XDC XXA XXB XXC XXX UTO`
	m := make(map[string]bool, 300)
	for _, c := range strings.Fields(iso + " " + icao) {
		m[c] = true
	}
	return m
}()

// KnownCountry reports whether code (fillers trimmed) is a code ICAO 9303
// allows as issuing state or nationality.
func KnownCountry(code string) bool { return countryCodes[strings.TrimRight(code, "<")] }
