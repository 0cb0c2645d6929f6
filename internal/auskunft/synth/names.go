package synth

// Common German surnames, most frequent first (order after public name
// statistics; the frequencies used are a Zipf curve, not the real counts).
var surnames = []string{
	"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
	"Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
	"Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier",
	"Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber",
	"Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Schubert",
	"Vogel", "Friedrich", "Keller", "Günther", "Frank", "Berger", "Winkler", "Roth", "Beck", "Lorenz",
	"Baumann", "Franke", "Albrecht", "Schuster", "Simon", "Ludwig", "Böhm", "Winter", "Kraus", "Martin",
	"Schumacher", "Krämer", "Vogt", "Stein", "Jäger", "Otto", "Sommer", "Groß", "Seidel", "Heinrich",
	"Brandt", "Haas", "Schreiber", "Graf", "Schulte", "Dietrich", "Ziegler", "Kuhn", "Kühn", "Pohl",
	"Engel", "Horn", "Busch", "Bergmann", "Thomas", "Voigt", "Sauer", "Arnold", "Wolff", "Pfeiffer",
	"Ahrens", "Behrens", "Brinkmann", "Dörr", "Eckert", "Feldmann", "Gerlach", "Hübner", "Janßen", "Kolb",
	"Lindner", "Mertens", "Nowak", "Oswald", "Petersen", "Quast", "Rösler", "Schütz", "Thiele", "Ulrich",
}

// Surnames of other origins common in Germany, with a typical nationality.
var foreignSurnames = []struct{ Name, Nat string }{
	{"Yılmaz", "TUR"}, {"Kaya", "TUR"}, {"Demir", "TUR"}, {"Şahin", "TUR"}, {"Çelik", "TUR"}, {"Öztürk", "TUR"},
	{"Nowak", "POL"}, {"Kowalski", "POL"}, {"Wiśniewski", "POL"}, {"Wójcik", "POL"}, {"Łukasik", "POL"},
	{"Rossi", "ITA"}, {"Russo", "ITA"}, {"Esposito", "ITA"}, {"Bianchi", "ITA"},
	{"Popescu", "ROU"}, {"Ionescu", "ROU"}, {"Al-Hassan", "SYR"}, {"Haddad", "SYR"},
	{"Kovalenko", "UKR"}, {"Shevchenko", "UKR"}, {"Ivanov", "RUS"}, {"Petrov", "RUS"},
	{"Papadopoulos", "GRC"}, {"Horvat", "HRV"}, {"Novák", "CZE"}, {"Nguyễn", "VNM"}, {"Gruber", "AUT"},
}

// Parts of rarer compound surnames, to give the long tail real German
// name statistics have (hundreds of thousands of distinct names).
var surnameHeads = []string{
	"Ober", "Unter", "Nieder", "Hoch", "Kirch", "Wein", "Brand", "Stein", "Lind", "Eich", "Buch", "Tann",
	"Rosen", "Blum", "Grün", "Weiß", "Schwarz", "Roth", "Alt", "Neu", "Berg", "Thal", "Bach", "Brück",
	"Mühl", "Holz", "Feld", "Wies", "Hof", "Dorf", "Hausen", "Sonn", "Mond", "Stern", "Gold", "Silber",
	"Eisen", "Kupfer", "Stahl", "Wolf", "Fuchs", "Hirsch", "Bär", "Falk", "Adler", "Kling", "Stark", "Lust",
	"Fried", "Hein", "Kunz", "Götz", "Seitz", "Lutz", "Merk", "Reich", "Schön", "Wald", "Moos", "Ried",
	"Hage", "Ehr", "Esch", "Kamp", "Lohr", "Schmal", "Breit", "Kurz", "Lang", "Dick", "Wester", "Oster",
	"Süder", "Norder", "Mittel", "Klein", "Groß", "Herz", "Hell", "Dunk", "Frisch", "Kalt", "Warm", "Glück",
}

var surnameTails = []string{
	"mann", "meier", "mayer", "maier", "müller", "huber", "bauer", "hofer", "berger", "burger", "inger",
	"ner", "er", "ert", "hardt", "hoff", "horst", "stätter", "städter", "wald", "feld", "bach", "beck",
	"brink", "kamp", "kötter", "schmidt", "schmitt", "schneider", "weber", "wirth", "hauser", "reuther",
	"rieder", "ecker", "acker", "lein", "le", "el", "ke", "ing", "ling", "mann", "stein", "thaler",
	"dorfer", "mosers", "kirchner", "gruber", "steiner", "walder", "holzer", "leitner", "brunner", "köhler",
}

var maleGiven = []string{
	"Alexander", "Andreas", "Bernd", "Björn", "Christian", "Daniel", "David", "Dennis", "Dieter", "Dirk",
	"Elias", "Erik", "Fabian", "Felix", "Florian", "Frank", "Georg", "Gerhard", "Günter", "Hans",
	"Heinz", "Helmut", "Holger", "Jan", "Jens", "Joachim", "Johannes", "Jonas", "Jörg", "Jürgen",
	"Kai", "Karl", "Klaus", "Leon", "Lukas", "Manfred", "Marcel", "Mario", "Markus", "Martin",
	"Matthias", "Maximilian", "Michael", "Niklas", "Norbert", "Oliver", "Patrick", "Paul", "Peter", "Philipp",
	"Rainer", "Ralf", "René", "Robert", "Rolf", "Sascha", "Sebastian", "Stefan", "Sören", "Sven",
	"Thomas", "Thorsten", "Tim", "Tobias", "Uwe", "Volker", "Werner", "Wolfgang", "Mehmet", "Mustafa",
	"Ahmet", "Piotr", "Tomasz", "Giuseppe", "Ion", "Oleksandr", "Dmitri", "Ali",
}

var femaleGiven = []string{
	"Andrea", "Angelika", "Anja", "Anna", "Annette", "Barbara", "Bärbel", "Birgit", "Brigitte", "Carina",
	"Christina", "Claudia", "Daniela", "Doris", "Elke", "Emma", "Emily", "Eva", "Franziska", "Gabriele",
	"Hannah", "Hannelore", "Heike", "Helga", "Ingrid", "Jana", "Jasmin", "Jessica", "Julia", "Jutta",
	"Karin", "Katharina", "Käthe", "Kerstin", "Laura", "Lea", "Lena", "Lisa", "Marie", "Marion",
	"Martina", "Melanie", "Mia", "Michaela", "Monika", "Nadine", "Nicole", "Petra", "Renate", "Sabine",
	"Sandra", "Sarah", "Silke", "Simone", "Sophie", "Stefanie", "Susanne", "Tanja", "Ursula", "Ute",
	"Vanessa", "Yvonne", "Zoé", "Ayşe", "Fatma", "Zeynep", "Agnieszka", "Małgorzata", "Giulia", "Elena",
	"Olena", "Svetlana",
}

var foreignPlaces = map[string][]string{
	"TUR": {"İstanbul", "Ankara", "İzmir", "Konya"}, "POL": {"Kraków", "Łódź", "Gdańsk", "Poznań"},
	"ITA": {"Napoli", "Palermo", "Milano"}, "ROU": {"București", "Cluj-Napoca", "Timișoara"},
	"SYR": {"Aleppo", "Damaskus", "Homs"}, "UKR": {"Kyjiw", "Charkiw", "Odesa"}, "RUS": {"Moskau", "Omsk"},
	"GRC": {"Thessaloniki", "Athen"}, "HRV": {"Zagreb", "Split"}, "CZE": {"Brno", "Plzeň"},
	"VNM": {"Hanoi", "Hải Phòng"}, "AUT": {"Wien", "Graz", "Linz"},
}

// Manufacturers: world manufacturer identifier (ISO 3780), make, models.
var makes = []struct {
	WMI, Make string
	Models    []string
}{
	{"WVW", "Volkswagen", []string{"Golf", "Polo", "Passat", "Tiguan", "T-Roc", "ID.3"}},
	{"WBA", "BMW", []string{"320d", "118i", "X3", "520d", "i4"}},
	{"WDD", "Mercedes-Benz", []string{"C 200", "E 220 d", "A 180", "GLC 300"}},
	{"WAU", "Audi", []string{"A3", "A4 Avant", "A6", "Q5"}},
	{"W0L", "Opel", []string{"Corsa", "Astra", "Insignia", "Mokka"}},
	{"WF0", "Ford", []string{"Fiesta", "Focus", "Kuga", "Transit"}},
	{"TMB", "Škoda", []string{"Octavia", "Fabia", "Superb", "Kodiaq"}},
	{"VF1", "Renault", []string{"Clio", "Mégane", "Captur"}},
	{"ZFA", "Fiat", []string{"500", "Panda", "Tipo"}},
	{"VSS", "Seat", []string{"Ibiza", "Leon", "Ateca"}},
	{"JTD", "Toyota", []string{"Yaris", "Corolla", "RAV4"}},
	{"KMH", "Hyundai", []string{"i20", "i30", "Tucson"}},
	{"YV1", "Volvo", []string{"V60", "XC60", "XC40"}},
	{"WP0", "Porsche", []string{"911", "Cayenne", "Taycan"}},
}

var colours = []string{"schwarz", "weiß", "silber", "grau", "blau", "rot", "grün", "braun", "beige", "gelb", "orange"}

var authorities = []string{
	"LKA Bayern", "LKA Baden-Württemberg", "LKA Nordrhein-Westfalen", "LKA Niedersachsen", "LKA Berlin",
	"PP München", "PP Köln", "PP Frankfurt am Main", "PD Hannover", "StA Hamburg", "StA Stuttgart",
	"BKA Wiesbaden", "Bundespolizeipräsidium Potsdam", "AG München", "AG Düsseldorf",
}

var personActions = map[string][]string{
	"arrest": {
		"Festnehmen. Haftbefehl des Amtsgerichts liegt vor, Vorführung beim Richter veranlassen.",
		"Festnehmen zur Vollstreckung einer Freiheitsstrafe; Zahlung der Geldstrafe wendet die Haft ab.",
		"Festnehmen. Auslieferungsersuchen; Fluchtgefahr beachten.",
	},
	"whereabouts": {
		"Aufenthalt ermitteln und der ausschreibenden Dienststelle mitteilen. Nicht festnehmen.",
		"Anschrift feststellen, Ladung zustellen, Mitteilung an die Staatsanwaltschaft.",
	},
	"missing": {
		"In Obhut nehmen, Angehörige über die Leitstelle verständigen. Person ist orientierungslos.",
		"Wohlbefinden feststellen, Aufenthalt nur mit Einwilligung mitteilen.",
	},
	"specific_check": {
		"Gezielt kontrollieren: Person, Fahrzeug und mitgeführte Gegenstände durchsuchen, Ergebnis melden.",
	},
	"discreet_check": {
		"Verdeckt kontrollieren: Begleitpersonen, Fahrzeug und Reiseweg feststellen, Person nicht in Kenntnis setzen.",
	},
}

var objectActions = map[string][]string{
	"stolen": {
		"Sicherstellen: als gestohlen gemeldet. Insassen feststellen, Spuren sichern.",
		"Sicherstellen und Eigentümer über die ausschreibende Dienststelle verständigen.",
	},
	"seizure": {
		"Einziehen: Dokument als abhandengekommen gemeldet. Vorlegende Person identifizieren.",
		"Sicherstellen: Fahrzeug ist zur Beschlagnahme ausgeschrieben.",
	},
}
